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

from pipeline.convert.grouping import grouping_hash, portable_path
from pipeline.convert.logrecord import from_logging
from pipeline.convert.tickets import json_safe
from pipeline.exceptions import StorageError, StorageUnavailable
from pipeline.models import TicketRecord, to_utc
from pipeline.ticket_backends import BackendBase, ticket_record_of

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
        data = from_logging(record)
        message = record.__dict__.get(MESSAGE_ATTRIBUTE)
        if message is not None:
            data["message"] = message
        return data
    if isinstance(record, dict):
        return json_safe(record)  # type: ignore[no-any-return]
    return record.to_dict(json_safe=True)  # type: ignore[no-any-return]


def fresh_key() -> str:
    """A new occurrence key: 128 random bits as hex, as storage makes them."""
    return os.urandom(16).hex()


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
    module = data.get("module")
    filename = portable_path(str(data.get("filename") or ""), module)
    level = data["level"]
    if isinstance(level, bool) or not isinstance(level, int):
        raise StorageError(f"record cannot be stored: level must be an integer, got {level!r}")
    return TicketRecord(
        record_hash=key,
        app_id=app_id,
        time=when,
        level=level,
        channel=str(data.get("channel") or ""),
        location=f"{filename}:{data.get('lineno') or 0}",
        module=str(module) if module else "<unknown>",
        data=data,
        occurrence_key=fresh_key(),
    )


class TicketBatches:
    """``prepare`` and ``store`` of a handler's writer (see the module docstring)."""

    def __init__(self, handler: TicketingHandler, base: type[TicketingHandler]) -> None:
        self.handler = handler
        self.base = base  # the class whose methods count as not overridden

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

    def prepare(self, records: list[Any]) -> list[tuple[Any, Any]]:
        """``(record, what store writes)`` for each record; a record that fails is reported."""
        handler = self.handler
        per_record = self._per_record()
        direct = not per_record and self._direct()
        prepared: list[tuple[Any, Any]] = []
        for record in records:
            try:
                if direct and not isinstance(record, dict):
                    data = record_dict(record)
                    key = grouping_hash(data, handler.hash_salt, handler.grouping).hexdigest()
                    prepared.append(
                        (record, direct_ticket_record(record, data, key, handler.app_id))
                    )
                    continue
                key = handler.hash_record(record)
                data = handler.process_record(record, key)
                if per_record:
                    prepared.append((record, (data, key)))
                else:
                    built = ticket_record_of(record, data, key, handler.app_id)
                    prepared.append(
                        (record, dataclasses.replace(built, occurrence_key=fresh_key()))
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
