"""Ticket primitives of the SQLAlchemy driver: transactions, reads, solving, deleting, expiry.

A batch of tickets is one transaction of :func:`.ticket_writes.write_chunk`
per chunk of groups (see there: key lookup on a rerun only, upserts by the
new occurrences, bulk occurrence insert). A chunk that meets an occurrence
key stored already (:class:`.ticket_writes.Collided`) reruns the whole
transaction, with the lookup. Deadlocks and serialisation failures (InnoDB's gap locks
can still collide) are retried a few times with jittered back-off, then
raise :class:`StorageUnavailable` so the caller retries the batch later.

The tables are the driver's own (``ticket``, ``ticket_occurrence``) or,
under the driver's ``table_prefix`` option, a prefixed pair
(:func:`.ticket_schema.ticket_tables`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc

from pipeline.exceptions import ConfigError, StorageUnavailable
from pipeline.models import Occurrence, Ticket, TicketStatus
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy import ticket_writes
from pipeline.storage.impl_sqlalchemy.ticket_schema import (
    TICKET_TABLES,
    TicketTables,
    ticket_tables,
)
from pipeline.storage.tickets import TicketGroup, TicketQuery, Written

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
DEADLOCK_RETRIES = 5
#: Reruns of a batch whose occurrence key another writer stored meanwhile.
COLLISION_RETRIES = 10
_DEADLOCK_MYSQL = (1213, 1205)  # deadlock, lock wait timeout
_DEADLOCK_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure


def is_deadlock(err: exc.DBAPIError) -> bool:
    """True for errors that a retry of the whole transaction resolves."""
    orig = err.orig
    if getattr(orig, "sqlstate", None) in _DEADLOCK_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _DEADLOCK_MYSQL


def _ordered(
    query: sa.Select[Any], table: sa.Table, order: tuple[tuple[str, bool], ...]
) -> sa.Select[Any]:
    return query.order_by(
        *(
            table.c[column].desc() if descending else table.c[column].asc()
            for column, descending in order
        )
    )


def _paged(query: sa.Select[Any], limit: int | None, offset: int) -> sa.Select[Any]:
    if limit is not None:
        query = query.limit(limit)
    return query.offset(offset) if offset else query


def _ticket(row: Any) -> Ticket:
    return Ticket(
        row.ticket_id,
        row.record_hash,
        row.level,
        row.channel,
        row.location,
        row.module,
        row.app_id,
        row.first_occurrence_time,
        row.last_occurrence_time,
        int(row.occurrence_count),
        bool(row.solved),
        TicketStatus(row.status),
    )


class SQLTickets:
    """The ticket primitives of the SQLAlchemy driver (see the module docstring).

    Needs ``self.engine``; reads and writes the tables :meth:`_open_tickets`
    chose.
    """

    engine: sa.Engine
    #: The prefix of the ticket tables in use (None: the driver's own tables).
    table_prefix: str | None
    #: The ticket tables in use.
    ticket_tables: TicketTables

    def _open_tickets(self, table_prefix: str | None, metadata: sa.MetaData | None) -> None:
        """Use the driver's own ticket tables, or ``<table_prefix>tickets`` and
        ``<table_prefix>occurrences`` defined on ``metadata`` (a new one when None)."""
        if table_prefix is None:
            if metadata is not None:
                raise ConfigError("the SQLAlchemy driver's metadata option needs a table_prefix")
            tables = TICKET_TABLES
        elif not isinstance(table_prefix, str):
            raise ConfigError(f"table_prefix must be a string, got {table_prefix!r}")
        else:
            tables = ticket_tables(sa.MetaData() if metadata is None else metadata, table_prefix)
        self.table_prefix, self.ticket_tables = table_prefix, tables

    def _in_transaction(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in one write transaction, retrying it after a deadlock
        or an occurrence key collision (:class:`.ticket_writes.Collided`)."""
        attempt = collisions = 0
        with engines.translated_errors(action):
            while True:
                try:
                    with engines.writing(self.engine) as conn, conn.begin():
                        return work(conn)
                except ticket_writes.Collided as err:
                    collisions += 1
                    if collisions > COLLISION_RETRIES:
                        raise StorageUnavailable(f"{action}: keys kept colliding: {err}") from err
                    LOG.debug("%s: an occurrence key was stored meanwhile; rerun", action)
                except exc.DBAPIError as err:
                    if not is_deadlock(err) or attempt >= DEADLOCK_RETRIES:
                        raise
                    attempt += 1
                    pause = random.uniform(0.01, 0.05) * 2**attempt
                    LOG.info("%s: %s; retry %d in %.2fs", action, err.orig, attempt, pause)
                    time.sleep(pause)

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> Written:
        # The first attempt takes every occurrence as new; a collision reruns
        # the transaction with the lookup of stored keys (see .ticket_writes).
        look_up = False

        def work(conn: sa.Connection) -> Written:
            nonlocal look_up
            total = Written({})
            try:
                for start in range(0, len(groups), ticket_writes.UPSERT_CHUNK):
                    chunk = groups[start : start + ticket_writes.UPSERT_CHUNK]
                    written = ticket_writes.write_chunk(conn, self.ticket_tables, chunk, look_up)
                    total.ticket_ids.update(written.ticket_ids)
                    total.created += written.created
                    total.regressed += written.regressed
            except ticket_writes.Collided:
                look_up = True
                raise
            return total

        return self._in_transaction("record tickets", work)

    def _where(self, query: sa.Select[Any], ticket_query: TicketQuery) -> sa.Select[Any]:
        c = self.ticket_tables.ticket.c
        if ticket_query.app_id is not None:
            query = query.where(c.app_id == ticket_query.app_id)
        if ticket_query.status is not None:
            query = query.where(c.status == ticket_query.status.value)
        if ticket_query.level is not None:
            query = query.where(c.level >= ticket_query.level)
        if ticket_query.channel is not None:
            query = query.where(c.channel == ticket_query.channel)
        if ticket_query.since is not None:
            query = query.where(c.last_occurrence_time >= ticket_query.since)
        return query

    def _query_tickets(self, query: TicketQuery) -> list[Ticket]:
        table = self.ticket_tables.ticket
        select = _paged(
            _ordered(self._where(sa.select(table), query), table, query.order),
            query.limit,
            query.offset,
        )
        with engines.translated_errors("query tickets"), self.engine.connect() as conn:
            return [_ticket(row) for row in conn.execute(select)]

    def _count_tickets(self, query: TicketQuery) -> int:
        select = self._where(
            sa.select(sa.func.count()).select_from(self.ticket_tables.ticket), query
        )
        with engines.translated_errors("count tickets"), self.engine.connect() as conn:
            return int(conn.execute(select).scalar_one())

    def _get_ticket(self, ticket_id: int) -> Ticket | None:
        table = self.ticket_tables.ticket
        with engines.translated_errors("get ticket"), self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.ticket_id == ticket_id)).first()
        return None if row is None else _ticket(row)

    def _query_occurrences(
        self, ticket_id: int, order: tuple[tuple[str, bool], ...], limit: int | None, offset: int
    ) -> list[Occurrence] | None:
        ticket, table = self.ticket_tables
        exists = sa.select(ticket.c.ticket_id).where(ticket.c.ticket_id == ticket_id)
        select = _paged(
            _ordered(sa.select(table).where(table.c.ticket_id == ticket_id), table, order),
            limit,
            offset,
        )
        with engines.translated_errors("query occurrences"), self.engine.connect() as conn:
            if conn.execute(exists).first() is None:
                return None
            rows = conn.execute(select).all()
        return [
            Occurrence(row.occurrence_id, row.ticket_id, row.time, json.loads(row.data), row.app_id)
            for row in rows
        ]

    def _set_ticket_solved(self, ticket_id: int) -> bool:
        table = self.ticket_tables.ticket
        update = (
            sa.update(table)
            .where(table.c.ticket_id == ticket_id)
            .values(solved=True, status=TicketStatus.SOLVED.value)
        )
        return bool(self._in_transaction("solve ticket", lambda c: c.execute(update).rowcount))

    def _delete_ticket(self, ticket_id: int) -> bool:
        ticket, occurrence = self.ticket_tables

        def work(conn: sa.Connection) -> bool:
            # Lock the ticket first, as writers do, then its occurrences.
            found = conn.execute(
                sa.select(ticket.c.ticket_id)
                .where(ticket.c.ticket_id == ticket_id)
                .with_for_update()
            ).first()
            if found is None:
                return False
            conn.execute(sa.delete(occurrence).where(occurrence.c.ticket_id == ticket_id))
            conn.execute(sa.delete(ticket).where(ticket.c.ticket_id == ticket_id))
            return True

        return self._in_transaction("delete ticket", work)

    def _delete_occurrences_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Oldest first, one transaction per chunk of ids."""
        table = self.ticket_tables.occurrence
        deleted = 0
        while max_count is None or deleted < max_count:
            size = 1000 if max_count is None else min(1000, max_count - deleted)
            # MySQL cannot LIMIT a subquery of DELETE ... IN: select the ids first.
            select = (
                sa.select(table.c.occurrence_id)
                .where(table.c.time < cutoff)
                .order_by(table.c.time, table.c.occurrence_id)
                .limit(size)
            )

            def work(conn: sa.Connection, select: sa.Select[Any] = select) -> int:
                ids = list(conn.execute(select).scalars())
                if not ids:
                    return 0
                return int(
                    conn.execute(sa.delete(table).where(table.c.occurrence_id.in_(ids))).rowcount
                )

            count = self._in_transaction("expire occurrences", work)
            deleted += count
            if count < size:
                break
        return deleted
