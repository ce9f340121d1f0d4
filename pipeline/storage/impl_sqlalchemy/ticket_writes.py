"""The write path of the SQLAlchemy driver's tickets: key lookup, upserts, occurrences.

For each chunk of groups (already sorted by ``(app_id, record_hash)``, so
concurrent writers lock rows in one order) :func:`write_chunk` runs, inside
the caller's transaction: when asked to, a SELECT of which of the chunk's
occurrence keys are stored already (only keys the records came with: a
fresh key cannot be) and the groups narrowed to their new records
(:func:`~pipeline.storage.tickets.new_only`); then an upsert per remaining ticket
— ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite) or ``INSERT ... ON DUPLICATE
KEY UPDATE`` (MySQL/MariaDB), compiled once and sent with executemany
(PyMySQL makes it one multi-row statement) — bumping the tickets by the new
records only, a SELECT of their ids and counts, the UPDATE reopening the
solved ones among them (:func:`.ticket_bumps.remap`), and one DBAPI executemany
INSERT of the new occurrences. PostgreSQL does the same with one key lookup,
one ``unnest`` upsert returning ids and counts, the UPDATE, and a COPY
(:mod:`.ticket_postgresql`).

What the chunk did is counted exactly, also with concurrent writers: a
ticket is created by this chunk when its count after the upsert is the
count the chunk added (the row is locked by the upsert until commit, and a
stored count is at least one); it is reopened when the UPDATE after the
upsert, on rows this transaction holds locked, finds it solved.

The lookup is skipped on a batch's first attempt: almost every key a
writer sends is new (the handler's are drawn at random, a consumer's are
message ids seen once), and the unique index on the key refuses an
occurrence stored before just as it refuses one stored by a concurrent
writer. Either way the insert fails and raises :class:`Collided`, on which
the caller rolls the whole transaction (with its bump) back and runs it
again with the lookup, now finding the key stored. A redelivered batch
costs one rolled-back attempt; every other batch saves a query that probes
the key index once per record. Concurrent writers of the same redelivered
record are race-free the same way: the other's insert waits for the first
transaction and fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import mysql, postgresql, sqlite

from pipeline.storage.impl_sqlalchemy import ticket_postgresql as postgresql_bulk
from pipeline.storage.impl_sqlalchemy.ticket_bumps import assignments, remap, ticket_rows
from pipeline.storage.impl_sqlalchemy.ticket_schema import TicketTables
from pipeline.storage.impl_sqlalchemy.writer import executemany_rows
from pipeline.storage.tickets import TicketGroup, Written, given_keys, new_only

#: Groups per upsert statement (keeps bind parameters under every limit).
UPSERT_CHUNK = 500
#: Occurrence keys per lookup (bind parameters of SQLite and MySQL).
KEY_CHUNK = 500


@functools.lru_cache(maxsize=32)
def _upsert(table: sa.Table, dialect: str) -> Any:
    """The upsert of one ticket row, executed many times per batch (compiled once)."""
    if dialect in ("mysql", "mariadb"):
        my_stmt = mysql.insert(table)
        return my_stmt.on_duplicate_key_update(assignments(table, my_stmt.inserted))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.app_id, table.c.record_hash],
        set_=dict(assignments(table, stmt.excluded)),
    )


#: The columns of :func:`_occurrence_rows`, in their order.
OCCURRENCE_COLUMNS = ("ticket_id", "time", "app_id", "data", "occurrence_key")


def _occurrence_rows(
    groups: Sequence[TicketGroup], ids: dict[tuple[str, str], int]
) -> Iterator[tuple[int, dt.datetime, str, str, str]]:
    for group in groups:
        ticket_id = ids[(group.app_id, group.record_hash)]
        for record, text, key in zip(group.records, group.data_json, group.keys, strict=True):
            yield ticket_id, record.time, record.app_id, text, key


class Collided(Exception):
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
    """Raise :class:`Collided` for a unique violation of the occurrences inserted inside."""
    try:
        yield
    except exc.IntegrityError as err:
        # The batch's keys are distinct, so a duplicate is a key stored before
        # (not looked up) or committed by another writer since the lookup:
        # run it again, with the lookup.
        if not _is_unique_violation(err):
            raise
        raise Collided(str(err.orig)) from err


def stored_keys(conn: sa.Connection, table: sa.Table, groups: Sequence[TicketGroup]) -> set[str]:
    """The occurrence keys of ``groups`` that ``table`` holds already."""
    keys = given_keys(groups)
    if not keys:
        return set()
    if postgresql_bulk.supported(conn):
        return postgresql_bulk.stored_keys(conn, table, keys)
    column = table.c.occurrence_key
    found: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start : start + KEY_CHUNK]
        found.update(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
    return found


def _ticket_ids(
    conn: sa.Connection, table: sa.Table, groups: Sequence[TicketGroup]
) -> dict[tuple[str, str], tuple[int, int]]:
    """By key, the id and count of the ``groups``' tickets that exist."""
    c = table.c
    keys = [(g.app_id, g.record_hash) for g in groups]
    rows = conn.execute(
        sa.select(c.app_id, c.record_hash, c.ticket_id, c.occurrence_count).where(
            sa.tuple_(c.app_id, c.record_hash).in_(keys)
        )
    )
    return {(app_id, key): (ticket_id, count) for app_id, key, ticket_id, count in rows}


def _upserted(
    conn: sa.Connection,
    tables: TicketTables,
    groups: Sequence[TicketGroup],
    fresh: Sequence[TicketGroup],
) -> dict[tuple[str, str], tuple[int, int]]:
    """Upsert the ``fresh`` groups; by key, the id and count of every group's ticket."""
    if not postgresql_bulk.supported(conn):
        if fresh:
            conn.execute(_upsert(tables.ticket, conn.dialect.name), ticket_rows(fresh))
        return _ticket_ids(conn, tables.ticket, groups)
    found = postgresql_bulk.upsert(conn, tables.ticket, fresh) if fresh else {}
    if len(found) < len(groups):  # redelivered records only: tickets not bumped
        rest = [g for g in groups if (g.app_id, g.record_hash) not in found]
        found.update(_ticket_ids(conn, tables.ticket, rest))
    return found


def write_chunk(
    conn: sa.Connection, tables: TicketTables, groups: Sequence[TicketGroup], look_up: bool
) -> Written:
    """Store the chunk's new occurrences and bump their tickets (see the module docstring).

    ``look_up`` False takes every occurrence as new. Returns the ticket ids
    by key and what was created and reopened; raises :class:`Collided` when
    one of the keys is stored already (without the lookup) or was stored
    by another writer since the lookup.
    """
    stored = stored_keys(conn, tables.occurrence, groups) if look_up else ()
    fresh = new_only(groups, stored) if stored else groups
    found = _upserted(conn, tables, groups, fresh)
    ids = {key: ticket_id for key, (ticket_id, _) in found.items()}
    created = [g for g in fresh if found[(g.app_id, g.record_hash)][1] == g.count]
    existing = [
        found[(g.app_id, g.record_hash)][0]
        for g in fresh
        if found[(g.app_id, g.record_hash)][1] != g.count
    ]
    written = Written(ids, len(created), remap(conn, tables.ticket, existing))
    if not fresh:
        return written
    with _collisions():
        if postgresql_bulk.supported(conn):
            postgresql_bulk.copy_occurrences(conn, tables.occurrence, _occurrence_rows(fresh, ids))
        else:
            rows = list(_occurrence_rows(fresh, ids))
            executemany_rows(conn, tables.occurrence, OCCURRENCE_COLUMNS, rows)
    return written
