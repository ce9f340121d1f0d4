"""The writer thread's half of a non-blocking ``TicketingHandler``: records to batches.

:class:`TicketBatches` gives :class:`~pipeline.ticket_writer.TicketWriter`
its ``prepare`` and ``store``. A batch of queued records becomes
:class:`~pipeline.models.TicketRecord` objects, each with a fresh
occurrence key, so that writing the batch again after an ambiguous failure
(the commit may have happened) stores nothing twice; the batch is then one
``record_tickets`` call. A batch the storage refuses as a whole (not
because it is unavailable) is written again one record at a time, so one
bad record costs only itself. Refused records are reported through the
handler's ``handleError`` (logbook records: ``handle_error``), as a
synchronous emit would report them.

The handler's extension points are honoured: ``hash_record``
(``hash_record_raw``) and ``process_record`` overrides are called here, on
the writer thread; a ``record_ticket`` override, or a backend with its own
``record_ticket``, is called once per record, with the same retries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from pipeline.convert.logbook_dicts import stored_dict
from pipeline.convert.logrecord import from_logging
from pipeline.convert.tickets import json_safe
from pipeline.exceptions import StorageError, StorageUnavailable
from pipeline.models import TicketRecord, to_utc
from pipeline.ticket_backends import BackendBase, ticket_record_of
from pipeline.ticket_sites import SiteFields, ticket_fields

if TYPE_CHECKING:
    from pipeline.ticketing import TicketingHandler

LOG = logging.getLogger("pipeline.ticketing")
#: Where a queued stdlib record keeps its message as formatted in the log call.
MESSAGE_ATTRIBUTE = "_ticketing_message"
#: The handler methods whose defaults let a batch skip them.
_OVERRIDABLE = ("hash_record", "hash_record_raw", "process_record", "record_ticket")


def record_dict(record: Any) -> dict[str, Any]:
    """A logbook-shaped JSON-safe dict of a stdlib or logbook record (or a dict).

    A queued stdlib record carries the message formatted in the log call.
    """
    if isinstance(record, logging.LogRecord):
        return from_logging(record, record.__dict__.get(MESSAGE_ATTRIBUTE))
    if isinstance(record, dict):
        return json_safe(record)  # type: ignore[no-any-return]
    return record.to_dict(json_safe=True)  # type: ignore[no-any-return]


def fresh_key() -> str:
    """A new occurrence key: 128 random bits as hex, as storage makes them."""
    return os.urandom(16).hex()


def fresh_keys(count: int) -> list[str]:
    """``count`` new occurrence keys (:func:`fresh_key`), from one read of random bytes."""
    text = os.urandom(16 * count).hex()
    return [text[start : start + 32] for start in range(0, 32 * count, 32)]


def direct_ticket_record(record: Any, data: dict[str, Any], key: str, app_id: str) -> TicketRecord:
    """``ticket_record_of(record, data, key, app_id)`` for a stdlib or logbook record.

    ``data`` must be ``record_dict(record)``; a stdlib record's is stored as it is.
    The same fields, built without grouping the record a second time or
    copying its data (tests hold the two equal); with a fresh occurrence key.
    """
    if isinstance(record, logging.LogRecord):
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
    else:  # logbook's to_dict keeps tuples, which storage reads back as lists
        when, data = to_utc(record.time), json_safe(data)
    return _ticket_record(data, when, (key, *ticket_fields(data)), app_id, fresh_key())


def _ticket_record(
    data: dict[str, Any], when: dt.datetime, grouped: tuple[str, str, str], app_id: str, key: str
) -> TicketRecord:
    """The ticket record of ``data`` at ``when``; ``grouped`` is (record hash, location, module)."""
    record_hash, location, module = grouped
    return TicketRecord(
        record_hash=record_hash,
        app_id=app_id,
        time=when,
        level=data["level"],
        channel=str(data.get("channel") or ""),
        location=location,
        module=module,
        data=data,
        occurrence_key=key,
    )


def _direct_record(record: Any, sites: SiteFields, app_id: str, key: str) -> TicketRecord:
    """:func:`direct_ticket_record` of ``record`` grouped through ``sites``, with key ``key``."""
    if isinstance(record, logging.LogRecord):
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        data = from_logging(record, record.__dict__.get(MESSAGE_ATTRIBUTE), when)
    else:  # logbook's export and json_safe in one walk; tuples (fingerprints) group as lists
        data, when = stored_dict(record), to_utc(record.time)
    return _ticket_record(data, when, sites.of(data), app_id, key)


class TicketBatches:
    """``prepare`` and ``store`` of a handler's writer (see the module docstring)."""

    def __init__(self, handler: TicketingHandler, base: type[TicketingHandler]) -> None:
        self.handler = handler
        self.base = base  # the class whose methods count as not overridden
        self._sites: SiteFields | None = None

    def _overridden(self, name: str) -> bool:
        return getattr(type(self.handler), name) is not getattr(self.base, name)

    def _per_record(self) -> bool:
        """True when a ``record_ticket`` of the handler's or the backend's must write."""
        backend_class = type(self.handler.db)
        return self._overridden("record_ticket") or (
            backend_class.record_ticket is not BackendBase.record_ticket
        )

    def _direct(self) -> bool:
        """True when grouping and the stored data are the handler's defaults."""
        return not any(self._overridden(name) for name in _OVERRIDABLE)

    def _site_fields(self) -> SiteFields:
        """The call-site table for the handler's current salt and grouping strategy."""
        handler, sites = self.handler, self._sites
        if sites is None or (sites.salt, sites.strategy) != (handler.hash_salt, handler.grouping):
            sites = self._sites = SiteFields(handler.hash_salt, handler.grouping)
        return sites

    def prepare(self, records: list[Any]) -> list[tuple[Any, Any]]:
        """``(record, what store writes)`` for each record; a record that fails is reported."""
        handler = self.handler
        per_record = self._per_record()
        direct = not per_record and self._direct()
        sites = self._site_fields()
        prepared: list[tuple[Any, Any]] = []
        for record, occurrence_key in zip(records, fresh_keys(len(records)), strict=True):
            try:
                if direct and not isinstance(record, dict):
                    built = _direct_record(record, sites, handler.app_id, occurrence_key)
                    prepared.append((record, built))
                    continue
                key = handler.hash_record(record)
                data = handler.process_record(record, key)
                if per_record:
                    prepared.append((record, (data, key)))
                else:
                    built = ticket_record_of(record, data, key, handler.app_id)
                    prepared.append(
                        (record, dataclasses.replace(built, occurrence_key=occurrence_key))
                    )
            except Exception:  # noqa: BLE001 - reported like a failed emit
                self.report(record)
        return prepared

    def store(self, items: list[tuple[Any, Any]]) -> None:
        """Write ``items``, removing each from the list once written or reported.

        Raises :class:`StorageUnavailable` with the unwritten items left in
        ``items``.
        """
        if items and self._per_record():
            self._store_each(items, self._record_ticket)
            return
        if len(items) > 1:
            try:
                self._record_tickets(items)
            except StorageUnavailable:
                raise
            except Exception:  # noqa: BLE001 - isolate the record that caused it, below
                LOG.debug("batch of %d ticket records refused; writing one by one", len(items))
            else:
                items.clear()
                return
        self._store_each(items, lambda item: self._record_tickets([item]))

    def _store_each(self, items: list[tuple[Any, Any]], write: Any) -> None:
        while items:
            try:
                write(items[0])
            except StorageUnavailable:
                raise
            except Exception:  # noqa: BLE001 - reported like a failed emit
                self.report(items[0][0])
            del items[0]

    def _record_ticket(self, item: tuple[Any, Any]) -> None:
        record, (data, key) = item
        self.handler.record_ticket(record, data, key)

    def _record_tickets(self, items: list[tuple[Any, Any]]) -> None:
        result = self.handler.db.connection.record_tickets([ticket for _, ticket in items])
        for index, reason in sorted(result.failed.items()):
            try:
                raise StorageError(f"record not stored: {reason}")
            except StorageError:
                self.report(items[index][0])

    def report(self, record: Any) -> None:
        """Report the exception being handled as the handler's emit would have."""
        handler = self.handler
        try:
            if isinstance(record, logging.LogRecord) or not hasattr(handler, "handle_error"):
                handler.handleError(record)
            else:
                handler.handle_error(record, sys.exc_info())
        except Exception:  # a replaced handleError may raise; the writer goes on
            LOG.exception("ticket writer: reporting a record that was not stored failed")
