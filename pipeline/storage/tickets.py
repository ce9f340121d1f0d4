"""The ticket half of the driver interface: the algorithm above the primitives.

:class:`TicketStore` is a base of every :class:`~pipeline.storage.base.Connection`.
Its public methods validate arguments, aggregate a batch into one
:class:`TicketGroup` per distinct ``(app_id, record_hash)`` (sorted, so that
concurrent writers lock rows in the same order) and parse ``order_by`` and
filters into an immutable :class:`TicketQuery`. Drivers that declare
``Capability.TICKETS`` implement the ``_``-prefixed primitives; a class that
declares it without overriding them all is rejected when it is defined.

Semantics every driver shares:

* a group is written with one atomic upsert: count += occurrences,
  first = min, last = max, and a solved ticket becomes ``regressed``;
  ``level``, ``channel``, ``location`` and ``module`` stay as first written;
* ``order_by`` names a ticket (or occurrence) column, ``-`` for descending;
  the id is the final tie-breaker, ascending;
* filters are ANDed: ``app_id``, ``status``, ``channel`` match exactly,
  ``level`` is a minimum, ``since`` keeps tickets last seen at or after it;
* expiring occurrences never changes a ticket's count, first or last time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.exceptions import InvalidQuery, MissingCapability, TicketNotFound
from pipeline.models import Occurrence, Ticket, TicketRecord, TicketResult, TicketStatus, to_utc

LOG = logging.getLogger(__name__)

TICKET_COLUMNS = (
    "ticket_id",
    "record_hash",
    "level",
    "channel",
    "location",
    "module",
    "app_id",
    "first_occurrence_time",
    "last_occurrence_time",
    "occurrence_count",
    "solved",
    "status",
)
OCCURRENCE_COLUMNS = ("occurrence_id", "ticket_id", "time", "app_id")
#: Longest values the SQL schema stores (checked for every driver alike).
MAX_LENGTHS = {"record_hash": 64, "app_id": 80, "channel": 255, "location": 512, "module": 255}
_HASH_MAX, _APP_MAX, _CHANNEL_MAX, _LOCATION_MAX, _MODULE_MAX = (
    MAX_LENGTHS[name] for name in ("record_hash", "app_id", "channel", "location", "module")
)
_DUMPS = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_PRIMITIVES = (
    "_write_tickets",
    "_query_tickets",
    "_count_tickets",
    "_get_ticket",
    "_query_occurrences",
    "_set_ticket_solved",
    "_delete_ticket",
)


@dataclass(frozen=True, slots=True)
class TicketGroup:
    """The records of one batch that share a ticket, ready for one upsert."""

    app_id: str
    record_hash: str
    level: int
    channel: str
    location: str
    module: str | None
    first_time: dt.datetime
    last_time: dt.datetime
    records: tuple[TicketRecord, ...]
    #: ``records[i].data`` as compact JSON text (serialised once, when checked).
    data_json: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """Occurrences this group adds."""
        return len(self.records)


@dataclass(frozen=True, slots=True)
class TicketQuery:
    """Validated ticket filters, order and page (see the module docstring)."""

    app_id: str | None = None
    status: TicketStatus | None = None
    level: int | None = None
    channel: str | None = None
    since: dt.datetime | None = None
    order: tuple[tuple[str, bool], ...] = (("last_occurrence_time", True),)
    limit: int | None = 50
    offset: int = 0


def parse_order(
    order_by: str, columns: Sequence[str], tie_breaker: str
) -> tuple[tuple[str, bool], ...]:
    """``'-col'`` into ``((col, True), (tie_breaker, False))``; True means descending."""
    if not isinstance(order_by, str) or not order_by:
        raise InvalidQuery(f"order_by must be a column name, got {order_by!r}")
    descending = order_by.startswith("-")
    column = order_by.lstrip("-")
    if column not in columns or order_by.startswith("--"):
        raise InvalidQuery(f"cannot order by {order_by!r}; use one of {', '.join(columns)}")
    order = [(column, descending)]
    if column != tie_breaker:
        order.append((tie_breaker, False))
    return tuple(order)


def _page(limit: int | None, offset: int) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidQuery(f"limit must be a non-negative integer or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidQuery(f"offset must be a non-negative integer, got {offset!r}")


def _status(status: TicketStatus | str | None) -> TicketStatus | None:
    if status is None or isinstance(status, TicketStatus):
        return status
    try:
        return TicketStatus(status)
    except ValueError:
        names = ", ".join(s.value for s in TicketStatus)
        raise InvalidQuery(f"unknown ticket status {status!r}; use one of {names}") from None


def _ticket_id(ticket_id: Any) -> int:
    if isinstance(ticket_id, str) and ticket_id.strip().isdigit():
        return int(ticket_id)
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise TicketNotFound(f"no ticket {ticket_id!r}")
    return ticket_id


def _explain(record: Any) -> None:
    """Raise the TypeError or ValueError that says why ``record`` cannot be stored."""
    if not isinstance(record, TicketRecord):
        raise TypeError(f"expected a TicketRecord, got {type(record).__name__}")
    for name, longest in MAX_LENGTHS.items():
        value = getattr(record, name)
        if value is None and name == "module":
            continue
        if not isinstance(value, str) or (name in ("record_hash", "app_id") and not value):
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if len(value) > longest:
            raise ValueError(f"{name} is longer than {longest} characters")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise ValueError(f"{name} contains a NUL character")
    if isinstance(record.level, bool) or not isinstance(record.level, int):
        raise TypeError(f"level must be an integer, got {record.level!r}")
    if not isinstance(record.data, dict):
        raise TypeError(f"data must be a dict, got {type(record.data).__name__}")


def check_record(record: Any) -> str:
    """The JSON text of ``record.data`` if it can be stored; TypeError or ValueError if not."""
    # One expression for the common, valid case (it runs for every record);
    # _explain finds the reason when it fails.
    valid = (
        type(record) is TicketRecord
        and type(record.record_hash) is str
        and 0 < len(record.record_hash) <= _HASH_MAX
        and type(record.app_id) is str
        and 0 < len(record.app_id) <= _APP_MAX
        and type(record.channel) is str
        and len(record.channel) <= _CHANNEL_MAX
        and type(record.location) is str
        and len(record.location) <= _LOCATION_MAX
        and (
            record.module is None
            or (type(record.module) is str and len(record.module) <= _MODULE_MAX)
        )
        and type(record.level) is int
        and type(record.data) is dict
        and "\x00" not in record.channel
        and "\x00" not in record.location
        and (record.module is None or "\x00" not in record.module)
        and "\x00" not in record.app_id
        and "\x00" not in record.record_hash
    )
    if not valid:
        _explain(record)
    try:
        return _DUMPS(record.data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"data is not JSON-safe: {err}") from None


def group_records(
    records: Sequence[TicketRecord], data_json: Sequence[str] | None = None
) -> list[TicketGroup]:
    """One group per ``(app_id, record_hash)``, sorted by that pair.

    ``data_json`` (parallel to ``records``) is the JSON text of each data.
    """
    texts = data_json if data_json is not None else [_DUMPS(r.data) for r in records]
    by_key: dict[tuple[str, str], list[tuple[TicketRecord, str]]] = {}
    for record, text in zip(records, texts, strict=True):
        by_key.setdefault((record.app_id, record.record_hash), []).append((record, text))
    groups = []
    for (app_id, record_hash), pairs in sorted(by_key.items()):
        members = [record for record, _ in pairs]
        first = min(members, key=lambda r: r.time)
        groups.append(
            TicketGroup(
                app_id,
                record_hash,
                first.level,
                first.channel,
                first.location,
                "<unknown>" if first.module is None else first.module,
                first.time,
                max(r.time for r in members),
                tuple(members),
                tuple(text for _, text in pairs),
            )
        )
    return groups


class TicketStore:
    """Ticket operations of a storage driver (see the module docstring)."""

    capabilities: ClassVar[frozenset[Any]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from pipeline.storage.base import Capability  # base imports this module

        if Capability.TICKETS in cls.capabilities:
            missing = [n for n in _PRIMITIVES if getattr(cls, n) is getattr(TicketStore, n)]
            if Capability.TICKET_EXPIRY in cls.capabilities and (
                cls._delete_occurrences_before is TicketStore._delete_occurrences_before
            ):
                missing.append("_delete_occurrences_before")
            if missing:
                raise TypeError(f"{cls.__name__} declares tickets but lacks {', '.join(missing)}")

    def _require(self, capability_name: str) -> None:
        from pipeline.storage.base import Capability

        capability = Capability(capability_name)
        if capability not in self.capabilities:
            raise MissingCapability(
                f"storage driver {type(self).__module__} does not declare {capability.value}"
            )

    # -- public API ---------------------------------------------------------

    def record_tickets(self, records: Sequence[TicketRecord]) -> TicketResult:
        """Store a batch of records as occurrences of their tickets.

        Each distinct ``(app_id, record_hash)`` is created or bumped with one
        atomic upsert; a record that cannot be stored is reported in
        ``failed`` by its position and does not stop the others.
        """
        self._require("tickets")
        result = TicketResult()
        valid: list[TicketRecord] = []
        texts: list[str] = []
        for index, record in enumerate(records):
            try:
                texts.append(check_record(record))
            except (TypeError, ValueError) as err:
                result.failed[index] = str(err)
            else:
                valid.append(record)
        if valid:
            result.ticket_ids = self._write_tickets(group_records(valid, texts))
            result.stored = len(valid)
        return result

    def get_tickets(
        self,
        order_by: str = "-last_occurrence_time",
        limit: int | None = 50,
        offset: int = 0,
        *,
        app_id: str | None = None,
        status: TicketStatus | str | None = None,
        level: int | None = None,
        channel: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[Ticket]:
        """Tickets matching the filters, ordered by ``order_by`` (``-`` = descending)."""
        self._require("tickets")
        _page(limit, offset)
        query = self._ticket_query(app_id, status, level, channel, since)
        return self._query_tickets(
            TicketQuery(
                query.app_id,
                query.status,
                query.level,
                query.channel,
                query.since,
                parse_order(order_by, TICKET_COLUMNS, "ticket_id"),
                limit,
                offset,
            )
        )

    def count_tickets(
        self,
        *,
        app_id: str | None = None,
        status: TicketStatus | str | None = None,
        level: int | None = None,
        channel: str | None = None,
        since: dt.datetime | None = None,
    ) -> int:
        """How many tickets match the filters (the same as :meth:`get_tickets`)."""
        self._require("tickets")
        return self._count_tickets(self._ticket_query(app_id, status, level, channel, since))

    @staticmethod
    def _ticket_query(
        app_id: str | None,
        status: TicketStatus | str | None,
        level: int | None,
        channel: str | None,
        since: dt.datetime | None,
    ) -> TicketQuery:
        if level is not None and (isinstance(level, bool) or not isinstance(level, int)):
            raise InvalidQuery(f"level must be an integer, got {level!r}")
        if since is not None and not isinstance(since, dt.datetime):
            raise InvalidQuery(f"since must be a datetime, got {since!r}")
        return TicketQuery(
            app_id, _status(status), level, channel, None if since is None else to_utc(since)
        )

    def get_ticket(self, ticket_id: int) -> Ticket:
        """The ticket ``ticket_id``; :class:`TicketNotFound` when there is none."""
        self._require("tickets")
        ticket = self._get_ticket(_ticket_id(ticket_id))
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id!r}")
        return ticket

    def get_occurrences(
        self, ticket_id: int, order_by: str = "-time", limit: int | None = 50, offset: int = 0
    ) -> list[Occurrence]:
        """Occurrences of a ticket, ordered; :class:`TicketNotFound` for an unknown id."""
        self._require("tickets")
        _page(limit, offset)
        order = parse_order(order_by, OCCURRENCE_COLUMNS, "occurrence_id")
        found = self._query_occurrences(_ticket_id(ticket_id), order, limit, offset)
        if found is None:
            raise TicketNotFound(f"no ticket {ticket_id!r}")
        return found

    def solve_ticket(self, ticket_id: int) -> None:
        """Mark a ticket solved until it fires again; :class:`TicketNotFound` if unknown."""
        self._require("tickets")
        if not self._set_ticket_solved(_ticket_id(ticket_id)):
            raise TicketNotFound(f"no ticket {ticket_id!r}")

    def delete_ticket(self, ticket_id: int) -> None:
        """Delete a ticket and its occurrences; :class:`TicketNotFound` if unknown."""
        self._require("tickets")
        if not self._delete_ticket(_ticket_id(ticket_id)):
            raise TicketNotFound(f"no ticket {ticket_id!r}")

    def clear_expired_occurrences(self, ttl: int, max_count: int | None = None) -> int:
        """Delete occurrences older than ``ttl`` seconds, oldest first, at most ``max_count``.

        Tickets keep their counts and times. Returns how many were deleted;
        a ``ttl`` of zero or less deletes nothing.
        """
        self._require("ticket_expiry")
        if ttl <= 0:
            return 0
        if max_count is not None and (isinstance(max_count, bool) or max_count < 1):
            raise InvalidQuery(f"max_count must be positive, got {max_count!r}")
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ttl)
        deleted = self._delete_occurrences_before(cutoff, max_count)
        LOG.debug("deleted %d ticket occurrences older than %s", deleted, cutoff)
        return deleted

    # -- primitives of drivers declaring TICKETS ---------------------------
    # The defaults are never reached: public methods check the capability
    # first, and __init_subclass__ rejects a declaring class lacking one.

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> dict[tuple[str, str], int]:
        """Upsert every group and insert its occurrences in one transaction.

        ``groups`` are sorted by ``(app_id, record_hash)``; returns their
        ticket ids. Transient failures (deadlock after retries, unreachable
        database) raise :class:`StorageUnavailable` with nothing written.
        """
        raise MissingCapability("tickets")

    def _query_tickets(self, query: TicketQuery) -> list[Ticket]:
        """Tickets matching ``query``, ordered and paged."""
        raise MissingCapability("tickets")

    def _count_tickets(self, query: TicketQuery) -> int:
        """Number of tickets matching ``query`` (order and page ignored)."""
        raise MissingCapability("tickets")

    def _get_ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket or None."""
        raise MissingCapability("tickets")

    def _query_occurrences(
        self, ticket_id: int, order: tuple[tuple[str, bool], ...], limit: int | None, offset: int
    ) -> list[Occurrence] | None:
        """Occurrences of the ticket, ordered and paged; None if the ticket does not exist."""
        raise MissingCapability("tickets")

    def _set_ticket_solved(self, ticket_id: int) -> bool:
        """Set status solved; False if the ticket does not exist."""
        raise MissingCapability("tickets")

    def _delete_ticket(self, ticket_id: int) -> bool:
        """Delete the ticket and its occurrences; False if it does not exist."""
        raise MissingCapability("tickets")

    def _delete_occurrences_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Delete up to ``max_count`` oldest occurrences with time < cutoff."""
        raise MissingCapability("ticket_expiry")
