"""The ticket half of the driver interface: the algorithm above the primitives.

:class:`TicketStore` is a base of every :class:`~pipeline.storage.base.Connection`.
Its public methods validate arguments, aggregate a batch into one
:class:`TicketGroup` per distinct ``(app_id, record_hash)`` (sorted, so that
concurrent writers lock rows in the same order) and parse ``order_by`` and
filters into an immutable :class:`TicketQuery`. Drivers that declare
``Capability.TICKETS`` implement the ``_``-prefixed primitives; a class that
declares it without overriding them all is rejected when it is defined.

Semantics every driver shares:

* every occurrence has an identity, its ``occurrence_key``, unique across
  the store: the id of the delivered message or a digest of the message
  (see :func:`pipeline.consume.identity.occurrence_key`) or, for a record given
  without one, a fresh random key. **Only new occurrences change a
  ticket.** A record whose key is already stored — a redelivery after a
  crash between commit and acknowledgement, in the same batch or a later
  one, by any writer — stores nothing and changes no count, first or last
  time and no status (a solved ticket stays solved). A key is remembered
  as long as its occurrence is stored: expiring the occurrence or deleting
  its ticket forgets it;
* a group is written with one atomic upsert over its new occurrences:
  count += new occurrences, first = min, last = max of their times, and a
  solved ticket becomes ``regressed``; ``level``, ``channel``, ``location``
  and ``module`` stay as first written (these rules are stated once, in
  :mod:`.ticket_rules`, and every driver's upsert is generated from them). Learning which occurrences are new
  and bumping the ticket happen in one transaction (SQL, MongoDB replica
  sets), so no crash can store an occurrence without its count (a
  standalone MongoDB server can: :mod:`.impl_mongodb.ticket_upserts`);
* ``order_by`` names a ticket (or occurrence) column, ``-`` for descending;
  the id is the final tie-breaker, ascending;
* filters are ANDed: ``app_id``, ``status``, ``channel`` match exactly,
  ``level`` is a minimum, ``since`` keeps tickets last seen at or after it;
* expiring occurrences never changes a ticket's count, first or last time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.exceptions import InvalidQuery, MissingCapability, TicketNotFound
from pipeline.models import Occurrence, Ticket, TicketRecord, TicketResult, TicketStatus, to_utc
from pipeline.storage.capabilities import Capability
from pipeline.storage.query import checked_text
from pipeline.storage.ticket_batch import (
    TicketGroup,
    Written,
    check_record,
    given_keys,
    group_records,
    new_only,
)

__all__ = [
    "OCCURRENCE_COLUMNS",
    "TICKET_COLUMNS",
    "TICKET_PRIMITIVES",
    "TicketGroup",
    "TicketQuery",
    "TicketStore",
    "Written",
    "check_record",
    "given_keys",
    "group_records",
    "new_only",
    "parse_order",
]

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
#: The ticket primitives a driver implements, by the capability that needs them.
_PRIMITIVES: dict[Capability, tuple[str, ...]] = {
    Capability.TICKETS: (
        "_write_tickets",
        "_query_tickets",
        "_count_tickets",
        "_get_ticket",
        "_query_occurrences",
        "_set_ticket_solved",
        "_delete_ticket",
    ),
    Capability.TICKET_EXPIRY: ("_delete_occurrences_before",),
}
#: Every ticket primitive (see :class:`TicketStore`).
TICKET_PRIMITIVES = tuple(name for names in _PRIMITIVES.values() for name in names)


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


class TicketStore:
    """Ticket operations of a storage driver (see the module docstring)."""

    #: Capabilities the driver implements (see :mod:`.capabilities`).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [
            name
            for capability, names in _PRIMITIVES.items()
            if capability in cls.capabilities
            for name in names
            if getattr(cls, name) is getattr(TicketStore, name)
        ]
        if missing:
            raise TypeError(f"{cls.__name__} declares tickets but lacks {', '.join(missing)}")

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise MissingCapability(
                f"storage driver {type(self).__module__} does not declare {capability.value}"
            )

    # -- public API ---------------------------------------------------------

    def record_tickets(self, records: Sequence[TicketRecord]) -> TicketResult:
        """Store a batch of records as occurrences of their tickets.

        Each distinct ``(app_id, record_hash)`` is created or bumped with one
        atomic upsert by its new occurrences (a record whose
        ``occurrence_key`` is stored already changes nothing); a record that
        cannot be stored is reported in ``failed`` by its position and does
        not stop the others. ``stored`` counts the accepted records,
        redeliveries included; ``created`` and ``regressed`` count the
        tickets created and the solved ones reopened by this call.
        """
        self._require(Capability.TICKETS)
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
            written = self._write_tickets(group_records(valid, texts))
            result.ticket_ids = written.ticket_ids
            result.created, result.regressed = written.created, written.regressed
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
        self._require(Capability.TICKETS)
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
        self._require(Capability.TICKETS)
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
            checked_text(app_id, "app_id"),
            _status(status),
            level,
            checked_text(channel, "channel"),
            None if since is None else to_utc(since),
        )

    def get_ticket(self, ticket_id: int) -> Ticket:
        """The ticket ``ticket_id``; :class:`TicketNotFound` when there is none."""
        self._require(Capability.TICKETS)
        ticket = self._get_ticket(_ticket_id(ticket_id))
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id!r}")
        return ticket

    def get_occurrences(
        self, ticket_id: int, order_by: str = "-time", limit: int | None = 50, offset: int = 0
    ) -> list[Occurrence]:
        """Occurrences of a ticket, ordered; :class:`TicketNotFound` for an unknown id."""
        self._require(Capability.TICKETS)
        _page(limit, offset)
        order = parse_order(order_by, OCCURRENCE_COLUMNS, "occurrence_id")
        found = self._query_occurrences(_ticket_id(ticket_id), order, limit, offset)
        if found is None:
            raise TicketNotFound(f"no ticket {ticket_id!r}")
        return found

    def solve_ticket(self, ticket_id: int) -> None:
        """Mark a ticket solved until it fires again; :class:`TicketNotFound` if unknown."""
        self._require(Capability.TICKETS)
        if not self._set_ticket_solved(_ticket_id(ticket_id)):
            raise TicketNotFound(f"no ticket {ticket_id!r}")

    def delete_ticket(self, ticket_id: int) -> None:
        """Delete a ticket and its occurrences; :class:`TicketNotFound` if unknown."""
        self._require(Capability.TICKETS)
        if not self._delete_ticket(_ticket_id(ticket_id)):
            raise TicketNotFound(f"no ticket {ticket_id!r}")

    def clear_expired_occurrences(self, ttl: int, max_count: int | None = None) -> int:
        """Delete occurrences older than ``ttl`` seconds, oldest first, at most ``max_count``.

        Tickets keep their counts and times. Returns how many were deleted;
        a ``ttl`` of zero or less deletes nothing.
        """
        self._require(Capability.TICKET_EXPIRY)
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

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> Written:
        """Store the groups' new occurrences and bump their tickets by them, atomically.

        ``groups`` are sorted by ``(app_id, record_hash)``, their keys
        distinct; a record whose key is stored already is skipped (see the
        module docstring, and :func:`new_only`). Returns the ticket ids of
        the groups (a group all of whose records were stored before may be
        left out when its ticket is not found), with the number of tickets
        this call created and of solved tickets it reopened: exact with
        concurrent writers (each counted by the one writer that did it). Transient failures (deadlock after retries, unreachable
        database) raise :class:`StorageUnavailable` with nothing written.
        """
        raise MissingCapability(Capability.TICKETS.value)

    def _query_tickets(self, query: TicketQuery) -> list[Ticket]:
        """Tickets matching ``query``, ordered and paged."""
        raise MissingCapability(Capability.TICKETS.value)

    def _count_tickets(self, query: TicketQuery) -> int:
        """Number of tickets matching ``query`` (order and page ignored)."""
        raise MissingCapability(Capability.TICKETS.value)

    def _get_ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket or None."""
        raise MissingCapability(Capability.TICKETS.value)

    def _query_occurrences(
        self, ticket_id: int, order: tuple[tuple[str, bool], ...], limit: int | None, offset: int
    ) -> list[Occurrence] | None:
        """Occurrences of the ticket, ordered and paged; None if the ticket does not exist."""
        raise MissingCapability(Capability.TICKETS.value)

    def _set_ticket_solved(self, ticket_id: int) -> bool:
        """Set status solved; False if the ticket does not exist."""
        raise MissingCapability(Capability.TICKETS.value)

    def _delete_ticket(self, ticket_id: int) -> bool:
        """Delete the ticket and its occurrences; False if it does not exist."""
        raise MissingCapability(Capability.TICKETS.value)

    def _delete_occurrences_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Delete up to ``max_count`` oldest occurrences with time < cutoff."""
        raise MissingCapability(Capability.TICKET_EXPIRY.value)
