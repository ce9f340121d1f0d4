"""The ticket primitives of the memory driver: tickets and occurrences in dicts.

One lock makes each primitive atomic, which is all the upsert semantics of
:mod:`pipeline.storage.tickets` need inside one process; a ticket is
created or bumped by applying :mod:`pipeline.storage.ticket_rules`. Stored occurrence
keys map to their occurrence ids, so a redelivered record is recognised and
forgotten with its occurrence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pipeline.models import Occurrence, Ticket, TicketStatus
from pipeline.storage.ticket_rules import BUMPS, REGRESSION, bumped, new_ticket
from pipeline.storage.tickets import TicketGroup, TicketQuery, Written, new_only

_T = TypeVar("_T")


def _ordered(
    items: list[_T], order: tuple[tuple[str, bool], ...], value: Callable[[_T, str], Any]
) -> list[_T]:
    # Stable sorts from the last key to the first give a multi-key order
    # with a direction per key (reverse=True keeps ties in order).
    for column, descending in reversed(order):
        items.sort(key=lambda item, c=column: value(item, c), reverse=descending)  # type: ignore[misc]
    return items


def _sort_value(item: Any, column: str) -> Any:
    found = getattr(item, column)
    return found.value if isinstance(found, TicketStatus) else found


def _page(items: list[_T], limit: int | None, offset: int) -> list[_T]:
    return items[offset:] if limit is None else items[offset : offset + limit]


def _reopened(old: Ticket, new: Ticket) -> bool:
    """True when bumping ``old`` into ``new`` applied the regression
    (:data:`~pipeline.storage.ticket_rules.REGRESSION`)."""
    column, stored, image = REGRESSION
    return bool(getattr(old, column) == stored and getattr(new, column) == image)


class MemoryTickets:
    """Ticket primitives backed by dicts, for :mod:`pipeline.storage.impl_memory`."""

    def _open_tickets(self) -> None:
        """Start with no tickets (the driver's constructor calls this)."""
        self._ticket_lock = threading.RLock()
        self._tickets: dict[int, Ticket] = {}
        self._ticket_keys: dict[tuple[str, str], int] = {}
        self._occurrences: dict[int, Occurrence] = {}
        #: occurrence id by occurrence key, and back.
        self._occurrence_keys: dict[str, int] = {}
        self._key_of: dict[int, str] = {}
        self._ticket_ids = itertools.count(1)
        self._occurrence_ids = itertools.count(1)

    def _upsert(self, group: TicketGroup) -> Ticket:
        """The ticket of ``group`` created, or bumped by it (:mod:`.ticket_rules`)."""
        key = (group.app_id, group.record_hash)
        values = new_ticket(group)
        ticket_id = self._ticket_keys.get(key)
        if ticket_id is None:
            ticket_id = next(self._ticket_ids)
            self._ticket_keys[key] = ticket_id
            return Ticket(ticket_id=ticket_id, **values)
        old = self._tickets[ticket_id]
        stored = {bump.column: getattr(old, bump.column) for bump in BUMPS}
        return dataclasses.replace(old, **bumped(stored, values))

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> Written:
        with self._ticket_lock:
            written = Written(
                {
                    (g.app_id, g.record_hash): self._ticket_keys[(g.app_id, g.record_hash)]
                    for g in groups
                    if (g.app_id, g.record_hash) in self._ticket_keys
                }
            )
            for group in new_only(groups, self._occurrence_keys):
                old = self._tickets.get(self._ticket_keys.get((group.app_id, group.record_hash), 0))
                ticket = self._upsert(group)
                self._tickets[ticket.ticket_id] = ticket
                written.ticket_ids[(group.app_id, group.record_hash)] = ticket.ticket_id
                written.created += old is None
                written.regressed += old is not None and _reopened(old, ticket)
                for record, key in zip(group.records, group.keys, strict=True):
                    occurrence_id = next(self._occurrence_ids)
                    self._occurrences[occurrence_id] = Occurrence(
                        occurrence_id,
                        ticket.ticket_id,
                        record.time,
                        dict(record.data),
                        record.app_id,
                    )
                    self._occurrence_keys[key] = occurrence_id
                    self._key_of[occurrence_id] = key
        return written

    def _forget(self, occurrence_id: int) -> None:
        del self._occurrences[occurrence_id]
        del self._occurrence_keys[self._key_of.pop(occurrence_id)]

    @staticmethod
    def _matches(ticket: Ticket, query: TicketQuery) -> bool:
        return (
            (query.app_id is None or ticket.app_id == query.app_id)
            and (query.status is None or ticket.status is query.status)
            and (query.level is None or ticket.level >= query.level)
            and (query.channel is None or ticket.channel == query.channel)
            and (query.since is None or ticket.last_occurrence_time >= query.since)
        )

    def _query_tickets(self, query: TicketQuery) -> list[Ticket]:
        with self._ticket_lock:
            found = [t for t in self._tickets.values() if self._matches(t, query)]
        return _page(_ordered(found, query.order, _sort_value), query.limit, query.offset)

    def _count_tickets(self, query: TicketQuery) -> int:
        with self._ticket_lock:
            return sum(1 for t in self._tickets.values() if self._matches(t, query))

    def _get_ticket(self, ticket_id: int) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def _query_occurrences(
        self, ticket_id: int, order: tuple[tuple[str, bool], ...], limit: int | None, offset: int
    ) -> list[Occurrence] | None:
        with self._ticket_lock:
            if ticket_id not in self._tickets:
                return None
            found = [o for o in self._occurrences.values() if o.ticket_id == ticket_id]
        return _page(_ordered(found, order, _sort_value), limit, offset)

    def _set_ticket_solved(self, ticket_id: int) -> bool:
        with self._ticket_lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                return False
            self._tickets[ticket_id] = dataclasses.replace(
                ticket, solved=True, status=TicketStatus.SOLVED
            )
            return True

    def _delete_ticket(self, ticket_id: int) -> bool:
        with self._ticket_lock:
            ticket = self._tickets.pop(ticket_id, None)
            if ticket is None:
                return False
            del self._ticket_keys[(ticket.app_id, ticket.record_hash)]
            for occurrence_id in [
                o.occurrence_id for o in self._occurrences.values() if o.ticket_id == ticket_id
            ]:
                self._forget(occurrence_id)
            return True

    def _delete_occurrences_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        with self._ticket_lock:
            expired = sorted(
                (o for o in self._occurrences.values() if o.time < cutoff),
                key=lambda o: (o.time, o.occurrence_id),
            )[:max_count]
            for occurrence in expired:
                self._forget(occurrence.occurrence_id)
        return len(expired)

    def _clear_tickets(self) -> None:
        with self._ticket_lock:
            self._tickets.clear()
            self._ticket_keys.clear()
            self._occurrences.clear()
            self._occurrence_keys.clear()
            self._key_of.clear()
