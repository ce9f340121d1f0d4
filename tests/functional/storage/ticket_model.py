"""A reference model of ticket storage, and seeded random streams to replay on it.

:class:`TicketModel` states the ticket rules of :mod:`pipeline.storage.tickets`
once more, in the plainest Python: a batch is grouped by ``(app_id,
record_hash)``; a new ticket takes level, channel, location and module from
its group's earliest record; every new occurrence adds one to the count and
widens first/last; a solved ticket that fires again is ``regressed``; a
deleted ticket is gone with its occurrences and the same key later makes a
new ticket. An occurrence whose identity is already stored (a redelivery)
changes nothing, not even a solved status. Each batch says how many tickets
it created and how many solved ones it reopened.

:func:`make_stream` draws the steps: batches of records of a few keys with
out-of-order times (whole seconds, microseconds, other UTC offsets), solves,
deletes and, when asked, redeliveries of records already sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterable, Sequence
from typing import Any

from pipeline.models import UTC, Occurrence, Ticket, TicketRecord, TicketStatus

#: The TicketRecord field carrying an occurrence's identity (helper ticketidem's
#: work). While the model lacks it, a redelivered record cannot be told from a
#: new one, and the redelivery test is expected to fail.
IDENTITY_FIELD = "occurrence_key"
HAS_IDENTITY = IDENTITY_FIELD in {f.name for f in dataclasses.fields(TicketRecord)}

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEYS = [
    ("app", "h-a"),
    ("app", "h-B"),
    ("app", "h-é"),
    ("app", "h-Z"),
    ("Äpp", "h-a"),
    ("Äpp", "h-\U0001d4b3"),
]
LEVELS = [9, 11, 13, 14, 15]
CHANNELS = ["a", "B", "é", "Z", "z", "a ", "chan \U0001f600"]
MODULES = [None, "mod", "Mód"]
OFFSETS = [
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(dt.timedelta(hours=-8)),
]


@dataclasses.dataclass
class ModelTicket:
    """One ticket of the model with the identities of its occurrences."""

    ticket: Ticket
    occurrences: list[tuple[str, TicketRecord]]


def identity(record: TicketRecord) -> str:
    """The occurrence identity the stream gave ``record`` (kept in its data)."""
    return str(record.data["identity"])


class TicketModel:
    """What every driver must hold after the same operations (see the module docstring)."""

    def __init__(self) -> None:
        self.tickets: dict[tuple[str, str], ModelTicket] = {}
        self.used_ids: set[int] = set()

    def stored_identities(self) -> set[str]:
        """Identities of every occurrence currently stored."""
        return {key for t in self.tickets.values() for key, _ in t.occurrences}

    def record(
        self, records: Sequence[TicketRecord], ids: dict[tuple[str, str], int]
    ) -> tuple[int, int]:
        """Apply one ``record_tickets`` batch; ``ids`` are the driver's ticket ids.

        Returns how many tickets the batch created and how many it reopened.
        """
        stored = self.stored_identities()
        groups: dict[tuple[str, str], list[TicketRecord]] = {}
        for record in records:
            if identity(record) in stored:
                continue  # a redelivery, in this batch or from an earlier one
            stored.add(identity(record))
            groups.setdefault((record.app_id, record.record_hash), []).append(record)
        created = regressed = 0
        for key, members in groups.items():
            was = self.tickets.get(key)
            created += was is None
            regressed += was is not None and was.ticket.status is TicketStatus.SOLVED
            self._apply_group(key, members, ids[key])
        return created, regressed

    def _apply_group(self, key: tuple[str, str], members: list[TicketRecord], new_id: int) -> None:
        first = min(members, key=lambda r: r.time)
        times = [r.time for r in members]
        found = self.tickets.get(key)
        if found is None:
            assert new_id not in self.used_ids, f"ticket id {new_id} given twice"
            self.used_ids.add(new_id)
            ticket = Ticket(
                new_id,
                key[1],
                first.level,
                first.channel,
                first.location,
                "<unknown>" if first.module is None else first.module,
                key[0],
                min(times),
                max(times),
                0,
                False,
                TicketStatus.OPEN,
            )
            found = self.tickets[key] = ModelTicket(ticket, [])
        old = found.ticket
        status = TicketStatus.REGRESSED if old.status is TicketStatus.SOLVED else old.status
        found.ticket = dataclasses.replace(
            old,
            first_occurrence_time=min(old.first_occurrence_time, *times),
            last_occurrence_time=max(old.last_occurrence_time, *times),
            occurrence_count=old.occurrence_count + len(members),
            solved=False,
            status=status,
        )
        found.occurrences.extend((identity(r), r) for r in members)

    def solve(self, key: tuple[str, str]) -> None:
        """Mark the ticket of ``key`` solved."""
        found = self.tickets[key]
        found.ticket = dataclasses.replace(found.ticket, solved=True, status=TicketStatus.SOLVED)

    def delete(self, key: tuple[str, str]) -> None:
        """Forget the ticket of ``key`` and its occurrences."""
        del self.tickets[key]

    def get_tickets(
        self, order_by: str, limit: int | None, offset: int, **filters: Any
    ) -> list[Ticket]:
        """Filtered, ordered (id the final tie-breaker, ascending) and paged."""
        found = sorted(
            (t.ticket for t in self.tickets.values() if _matches(t.ticket, filters)),
            key=lambda t: t.ticket_id,
        )
        column = order_by.lstrip("-")
        found.sort(key=lambda t: _column(t, column), reverse=order_by.startswith("-"))
        return found[offset:] if limit is None else found[offset : offset + limit]

    def occurrences(self, key: tuple[str, str]) -> list[tuple[Any, ...]]:
        """The ticket's occurrences as sorted ``(time, data, app_id)`` tuples."""
        return sorted(
            ((r.time, r.data, r.app_id) for _, r in self.tickets[key].occurrences), key=repr
        )


def _column(item: Ticket | Occurrence, column: str) -> Any:
    value = getattr(item, column)
    return value.value if isinstance(value, TicketStatus) else value


def _matches(ticket: Ticket, filters: dict[str, Any]) -> bool:
    checks = {
        "app_id": lambda v: ticket.app_id == v,
        "status": lambda v: ticket.status is TicketStatus(v),
        "level": lambda v: ticket.level >= v,
        "channel": lambda v: ticket.channel == v,
        "since": lambda v: ticket.last_occurrence_time >= v,
    }
    return all(checks[name](value) for name, value in filters.items())


def ordered_occurrences(occurrences: Iterable[Occurrence], order_by: str) -> list[Occurrence]:
    """``occurrences`` in ``order_by`` order, occurrence id the final tie-breaker."""
    found = sorted(occurrences, key=lambda o: o.occurrence_id)
    column = order_by.lstrip("-")
    found.sort(key=lambda o: _column(o, column), reverse=order_by.startswith("-"))
    return found


class StreamMaker:
    """Draws records and steps from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serial = 0
        self.sent: list[TicketRecord] = []

    def record(self) -> TicketRecord:
        """A new record of a random key at an out-of-order time, with its own identity."""
        rng, self.serial = self.rng, self.serial + 1
        app_id, record_hash = rng.choice(KEYS)
        when = T0 + dt.timedelta(minutes=rng.randint(-90, 90))
        if rng.random() < 0.5:
            when += dt.timedelta(microseconds=rng.randint(1, 999_999))
        data = {
            "identity": f"occ-{self.serial}",
            "message": f"{record_hash} #{self.serial}",
            "text": rng.choice(["", "é", "\U0001f600", "a" * 300]),
        }
        extra = {IDENTITY_FIELD: data["identity"]} if HAS_IDENTITY else {}
        record = TicketRecord(
            record_hash,
            app_id,
            when.astimezone(rng.choice(OFFSETS)),
            rng.choice(LEVELS),
            rng.choice(CHANNELS),
            f"{record_hash}.py:1",
            rng.choice(MODULES),
            data,
            **extra,
        )
        self.sent.append(record)
        return record

    def step(self, redeliveries: bool) -> tuple[str, Any]:
        """``("record", records)``, ``("solve", key)`` or ``("delete", key)``."""
        roll = self.rng.random()
        if roll < 0.15:
            return "solve", self.rng.choice(KEYS)
        if roll < 0.22:
            return "delete", self.rng.choice(KEYS)
        batch = [self.record() for _ in range(self.rng.randint(1, 6))]
        if redeliveries and self.rng.random() < 0.5:
            # The same records again: a whole batch redelivered, some earlier
            # ones, or a record repeated inside the batch.
            batch += self.rng.sample(self.sent, min(len(self.sent), self.rng.randint(1, 4)))
            self.rng.shuffle(batch)
        return "record", batch
