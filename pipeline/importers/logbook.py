"""Reading logbook's ticketing tables (``logbook.ticketing.SQLAlchemyBackend``).

Tables ``<prefix>tickets`` (``ticket_id``, ``record_hash``, ``level``,
``channel``, ``location``, ``module``, ``last_occurrence_time``,
``occurrence_count``, ``solved``, ``app_id``) and ``<prefix>occurrences``
(``occurrence_id``, ``ticket_id``, ``time``, ``data`` JSON text, ``app_id``),
prefix ``logbook_`` by default, declared here with SQLAlchemy Core; nothing
of logbook's is imported. logbook wrote ``record_hash`` as bytes (SQLite
keeps them as a BLOB) and times as naive UTC (its default).

The tickets (a few per line of code that logs errors, so few) are read
first, with their number of stored occurrences, the largest occurrence id
and time, in one aggregate query; the occurrences, which can be many, are
then read in pages by their primary key (keyset pagination: logbook made
no index on ``ticket_id``, so any other order would sort the whole table for
every page). Memory holds the tickets and one page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from pipeline.models import to_utc
from pipeline.storage.impl_sqlalchemy.engine import translated_errors

DEFAULT_PREFIX = "logbook_"


class LogbookTables(NamedTuple):
    """The two tables of one prefix."""

    tickets: sa.Table
    occurrences: sa.Table


def logbook_tables(prefix: str = DEFAULT_PREFIX) -> LogbookTables:
    """logbook's tables under ``prefix``, as its ``SQLAlchemyBackend`` makes them."""
    metadata = sa.MetaData()
    tickets = sa.Table(
        f"{prefix}tickets",
        metadata,
        sa.Column("ticket_id", sa.Integer, primary_key=True),
        sa.Column("record_hash", sa.String(40)),
        sa.Column("level", sa.Integer),
        sa.Column("channel", sa.String(120)),
        sa.Column("location", sa.String(512)),
        sa.Column("module", sa.String(256)),
        sa.Column("last_occurrence_time", sa.DateTime),
        sa.Column("occurrence_count", sa.Integer),
        sa.Column("solved", sa.Boolean),
        sa.Column("app_id", sa.String(80)),
    )
    occurrences = sa.Table(
        f"{prefix}occurrences",
        metadata,
        sa.Column("occurrence_id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("time", sa.DateTime),
        sa.Column("data", sa.Text),
        sa.Column("app_id", sa.String(80)),
    )
    return LogbookTables(tickets, occurrences)


@dataclass(frozen=True)
class LogbookTicket:
    """One logbook ticket with what its stored occurrences add up to."""

    ticket_id: int
    record_hash: str | bytes | None
    level: int | None
    channel: str | None
    location: str | None
    module: str | None
    app_id: str | None
    last_occurrence_time: dt.datetime | None
    occurrence_count: int | None
    solved: bool
    #: occurrences stored, the largest occurrence id and the latest time among them
    stored: int
    last_occurrence_id: int | None
    latest_time: dt.datetime | None


class LogbookOccurrence(NamedTuple):
    """One stored occurrence, as logbook wrote it."""

    occurrence_id: int
    ticket_id: int
    time: dt.datetime | None
    data: str | None


@dataclass
class LogbookReader:
    """Tickets and pages of occurrences of one logbook database (see the module docstring)."""

    engine: sa.Engine
    prefix: str = DEFAULT_PREFIX
    app_ids: tuple[str, ...] = ()
    action: str = "reading the logbook database"

    def __post_init__(self) -> None:
        self.tables = logbook_tables(self.prefix)

    def tickets(self) -> dict[int, LogbookTicket]:
        """The tickets (of ``app_ids``, when given) by logbook id."""
        t, o = self.tables
        totals = (
            sa.select(
                o.c.ticket_id,
                sa.func.count().label("stored"),
                sa.func.max(o.c.occurrence_id).label("last_id"),
                sa.func.max(o.c.time).label("latest"),
            )
            .group_by(o.c.ticket_id)
            .subquery()
        )
        query = sa.select(
            *t.c,
            totals.c.stored,
            totals.c.last_id,
            sa.type_coerce(totals.c.latest, sa.DateTime).label("latest"),
        ).select_from(t.outerjoin(totals, totals.c.ticket_id == t.c.ticket_id))
        if self.app_ids:
            query = query.where(t.c.app_id.in_(self.app_ids))
        with translated_errors(self.action), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.ticket_id)).all()
        return {row[0]: _ticket(row) for row in rows}

    def pages(self, ticket_ids: Sequence[int], size: int) -> Iterator[list[LogbookOccurrence]]:
        """The occurrences of the tickets ``ticket_ids``, by id, ``size`` at a time."""
        t, o = self.tables
        after = None
        wanted = set(ticket_ids)
        while True:
            query = sa.select(o.c.occurrence_id, o.c.ticket_id, o.c.time, o.c.data)
            if self.app_ids:  # else every occurrence of a ticket is wanted: no join
                query = query.join(t, t.c.ticket_id == o.c.ticket_id).where(
                    t.c.app_id.in_(self.app_ids)
                )
            if after is not None:
                query = query.where(o.c.occurrence_id > after)
            with translated_errors(self.action), self.engine.connect() as conn:
                rows = conn.execute(query.order_by(o.c.occurrence_id).limit(size)).all()
            if not rows:
                return
            after = rows[-1][0]
            page = [LogbookOccurrence(*row) for row in rows if row[1] in wanted]
            if page:
                yield page


def _ticket(row: Any) -> LogbookTicket:
    values = row._mapping
    return LogbookTicket(
        ticket_id=values["ticket_id"],
        record_hash=values["record_hash"],
        level=values["level"],
        channel=values["channel"],
        location=values["location"],
        module=values["module"],
        app_id=values["app_id"],
        last_occurrence_time=_utc(values["last_occurrence_time"]),
        occurrence_count=values["occurrence_count"],
        solved=bool(values["solved"]),
        stored=values["stored"] or 0,
        last_occurrence_id=values["last_id"],
        latest_time=_utc(values["latest"]),
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else to_utc(value)
