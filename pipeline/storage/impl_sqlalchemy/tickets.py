"""Ticket primitives of the SQLAlchemy driver: atomic upserts, then bulk occurrences.

A batch is one transaction: for each chunk of groups (already sorted by
``(app_id, record_hash)``, so concurrent writers lock rows in one order) a
SELECT finds which of the batch's occurrence keys are stored already (only
keys the records came with: a fresh key cannot be), the groups are narrowed
to the new records (:func:`~pipeline.storage.tickets.new_only`), then an
upsert per remaining ticket — ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite)
or ``INSERT ... ON DUPLICATE KEY UPDATE`` (MySQL/MariaDB), compiled once and
sent with executemany (PyMySQL makes it one multi-row statement) — creates
or bumps the tickets by the new records only, a SELECT reads their ids, and
one executemany INSERT adds the new occurrences. PostgreSQL does the same
with one key lookup, one ``unnest`` upsert and a COPY
(:mod:`.ticket_postgresql`).

Race-free with concurrent writers of the same redelivered record: both may
find its key absent and bump the ticket, but the unique index on the key
lets only one insert the occurrence; the other's insert waits for the
first transaction, fails, and its whole transaction (with its bump) rolls
back and runs again, now finding the key stored. Deadlocks and
serialisation failures (InnoDB's gap locks can still collide) are retried a
few times with jittered back-off, then raise :class:`StorageUnavailable` so
the caller retries the batch later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import mysql, postgresql, sqlite

from pipeline.exceptions import StorageUnavailable
from pipeline.models import Occurrence, Ticket, TicketStatus
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy import ticket_postgresql as postgresql_bulk
from pipeline.storage.impl_sqlalchemy.ticket_schema import TICKET_TABLES, TicketTables
from pipeline.storage.tickets import TicketGroup, TicketQuery, given_keys, new_only

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
#: Groups per upsert statement (keeps bind parameters under every limit).
UPSERT_CHUNK = 500
DEADLOCK_RETRIES = 5
#: Occurrence keys per lookup (bind parameters of SQLite and MySQL).
KEY_CHUNK = 500
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


def _ticket_rows(groups: Sequence[TicketGroup]) -> list[dict[str, Any]]:
    return [
        {
            "app_id": g.app_id,
            "record_hash": g.record_hash,
            "level": g.level,
            "channel": g.channel,
            "location": g.location,
            "module": g.module,
            "first_occurrence_time": g.first_time,
            "last_occurrence_time": g.last_time,
            "occurrence_count": g.count,
            "solved": False,
            "status": TicketStatus.OPEN.value,
        }
        for g in groups
    ]


# Literals, not bound parameters: PyMySQL's executemany (one multi-row
# INSERT) cannot take parameters in the ON DUPLICATE KEY UPDATE clause.
_SOLVED: sa.ColumnElement[str] = sa.literal_column(f"'{TicketStatus.SOLVED.value}'")
_REGRESSED: sa.ColumnElement[str] = sa.literal_column(f"'{TicketStatus.REGRESSED.value}'")


def _bumps(table: sa.Table, new: Any) -> list[tuple[str, Any]]:
    """Assignments of an upsert; ``new`` names the row that was to be inserted.

    MySQL applies assignments left to right, each seeing those before it:
    every expression here reads only columns not yet assigned.
    """
    c = table.c
    return [
        ("occurrence_count", c.occurrence_count + new.occurrence_count),
        (
            "first_occurrence_time",
            sa.case(
                (new.first_occurrence_time < c.first_occurrence_time, new.first_occurrence_time),
                else_=c.first_occurrence_time,
            ),
        ),
        (
            "last_occurrence_time",
            sa.case(
                (new.last_occurrence_time > c.last_occurrence_time, new.last_occurrence_time),
                else_=c.last_occurrence_time,
            ),
        ),
        (
            "status",
            sa.case(
                (c.status == _SOLVED, _REGRESSED),
                else_=c.status,
            ),
        ),
        ("solved", sa.false()),
    ]


@functools.lru_cache(maxsize=32)
def _upsert(table: sa.Table, dialect: str) -> Any:
    """The upsert of one ticket row, executed many times per batch (compiled once)."""
    if dialect in ("mysql", "mariadb"):
        my_stmt = mysql.insert(table)
        return my_stmt.on_duplicate_key_update(_bumps(table, my_stmt.inserted))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.app_id, table.c.record_hash],
        set_=dict(_bumps(table, stmt.excluded)),
    )


def _occurrence_rows(
    groups: Sequence[TicketGroup], ids: dict[tuple[str, str], int]
) -> Iterator[tuple[int, dt.datetime, str, str, str]]:
    for group in groups:
        ticket_id = ids[(group.app_id, group.record_hash)]
        for record, text, key in zip(group.records, group.data_json, group.keys, strict=True):
            yield ticket_id, record.time, record.app_id, text, key


class _Collided(Exception):
    """Another writer stored one of this batch's occurrence keys: run the batch again."""


def _is_unique_violation(err: exc.DBAPIError) -> bool:
    orig = err.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    if args and args[0] == 1062:  # MySQL/MariaDB ER_DUP_ENTRY
        return True
    return "UNIQUE constraint failed" in str(orig)  # SQLite


@contextlib.contextmanager
def _collisions() -> Iterator[None]:
    """Raise :class:`_Collided` for a unique violation of the occurrences inserted inside."""
    try:
        yield
    except exc.IntegrityError as err:
        # The batch's keys are distinct and none was stored at its lookup, so
        # a duplicate is a key another writer committed since: run it again.
        if not _is_unique_violation(err):
            raise
        raise _Collided(str(err.orig)) from err


def _stored_keys(conn: sa.Connection, table: sa.Table, groups: Sequence[TicketGroup]) -> set[str]:
    """The occurrence keys of ``groups`` that ``table`` holds already."""
    keys = given_keys(groups)
    if not keys or postgresql_bulk.supported(conn):
        return postgresql_bulk.stored_keys(conn, table, keys) if keys else set()
    column = table.c.occurrence_key
    found: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start : start + KEY_CHUNK]
        found.update(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
    return found


def _ticket_ids(
    conn: sa.Connection, table: sa.Table, groups: Sequence[TicketGroup]
) -> dict[tuple[str, str], int]:
    c = table.c
    keys = [(g.app_id, g.record_hash) for g in groups]
    rows = conn.execute(
        sa.select(c.app_id, c.record_hash, c.ticket_id).where(
            sa.tuple_(c.app_id, c.record_hash).in_(keys)
        )
    )
    return {(app_id, record_hash): ticket_id for app_id, record_hash, ticket_id in rows}


def _write_chunk(
    conn: sa.Connection, tables: TicketTables, groups: Sequence[TicketGroup]
) -> dict[tuple[str, str], int]:
    stored = _stored_keys(conn, tables.occurrence, groups)
    fresh = new_only(groups, stored) if stored else groups
    if postgresql_bulk.supported(conn):
        ids = postgresql_bulk.upsert(conn, tables.ticket, fresh) if fresh else {}
        if len(ids) < len(groups):  # redelivered records only: tickets not bumped
            rest = [g for g in groups if (g.app_id, g.record_hash) not in ids]
            ids.update(_ticket_ids(conn, tables.ticket, rest))
        with _collisions():
            postgresql_bulk.copy_occurrences(
                conn, tables.occurrence, _occurrence_rows(fresh, ids)
            )
        return ids
    if fresh:
        conn.execute(_upsert(tables.ticket, conn.dialect.name), _ticket_rows(fresh))
    ids = _ticket_ids(conn, tables.ticket, groups)
    if fresh:
        with _collisions():
            conn.execute(
                sa.insert(tables.occurrence),
                [
                    {"ticket_id": ticket_id, "time": when, "app_id": app_id, "data": text,
                     "occurrence_key": key}
                    for ticket_id, when, app_id, text, key in _occurrence_rows(fresh, ids)
                ],
            )
    return ids


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


class TicketStorage:
    """Ticket half of the driver; mixed into its :class:`Connection`.

    Needs ``self.engine``. ``ticket_tables`` may be replaced on an instance
    (the ticketing API's ``table_prefix``).
    """

    engine: sa.Engine
    ticket_tables: TicketTables = TICKET_TABLES

    def _in_transaction(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in one write transaction, retrying it after a deadlock
        or an occurrence key collision (:class:`_Collided`)."""
        attempt = collisions = 0
        with engines.translated_errors(action):
            while True:
                try:
                    with (
                        self.engine.connect().execution_options(
                            **{engines.WRITE_OPTION: True}
                        ) as conn,
                        conn.begin(),
                    ):
                        return work(conn)
                except _Collided as err:
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

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> dict[tuple[str, str], int]:
        def work(conn: sa.Connection) -> dict[tuple[str, str], int]:
            ids: dict[tuple[str, str], int] = {}
            for start in range(0, len(groups), UPSERT_CHUNK):
                ids.update(
                    _write_chunk(conn, self.ticket_tables, groups[start : start + UPSERT_CHUNK])
                )
            return ids

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
