"""The event primitives of the SQLAlchemy driver: writing, expiring, listing types and traits.

A batch is one transaction of :func:`.writer.write_batch`; when the
database rejects one event of it, the batch is retried event by event in
SAVEPOINTs so only that event fails (an event too large for MySQL's
``max_allowed_packet`` costs the connection, and is refused alone).
Queries are translated by :mod:`.event_reads`; expiry deletes oldest first,
in transactions of up to :data:`EXPIRY_TRANSACTION` events.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from pipeline.models import Event, Trait
from pipeline.storage.base import RecordResult
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy import event_reads as reads
from pipeline.storage.impl_sqlalchemy import writer
from pipeline.storage.impl_sqlalchemy.schema import TRAIT_TABLES, event
from pipeline.storage.impl_sqlalchemy.schema import event_type as type_table
from pipeline.storage.query import EventQuery

LOG = logging.getLogger(__name__)
#: Most events one expiry transaction deletes (fewer when ``max_count`` says so).
EXPIRY_TRANSACTION = 10000
#: SQLite page cache of the expiring connection, in KiB (its default is 2 MiB):
#: the pages of the tables and indexes a large delete goes over stay in memory.
SQLITE_EXPIRY_CACHE_KIB = 64 * 1024


@contextlib.contextmanager
def _expiry_cache(conn: sa.Connection) -> Iterator[None]:
    """On SQLite, a larger page cache for this connection while it expires."""
    if conn.dialect.name != "sqlite":
        yield
        return
    with conn.begin():
        before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_EXPIRY_CACHE_KIB}")
    try:
        yield
    finally:
        with conn.begin():
            conn.exec_driver_sql(f"PRAGMA cache_size = {before}")


def _delete_oldest_at_once(conn: sa.Connection, cutoff: dt.datetime, limit: int) -> int:
    """SQLite: delete the ``limit`` oldest events before ``cutoff``, one statement per table.

    Each statement finds the events with the same subquery: the write lock
    of the transaction (``BEGIN IMMEDIATE``) keeps anyone from adding or
    removing one in between. SQLite runs the subquery once per statement
    into a temporary b-tree, sorted by id, so each trait table is walked in
    the order of its primary key, with no bind parameter per event.
    """
    oldest = (
        sa.select(event.c.id)
        .where(event.c.generated < cutoff)
        .order_by(event.c.generated, event.c.id)
        .limit(limit)
    )
    for table in TRAIT_TABLES.values():  # no foreign key cascades (see schema.py)
        conn.execute(sa.delete(table).where(table.c.event_id.in_(oldest)))
    return int(conn.execute(sa.delete(event).where(event.c.id.in_(oldest))).rowcount)


class _TooLarge(Exception):
    """The server refused the statement of event ``message_id`` as too large."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.reason = (
            "the server refused the event's statement as larger than its "
            "max_allowed_packet (MySQL error 1153)"
        )


class SQLEvents:
    """The event primitives of the SQLAlchemy driver (see the module docstring).

    Needs ``self.engine``; every primitive translates database errors.
    """

    engine: sa.Engine

    def _write_batch(self, conn: sa.Connection, events: Sequence[Event]) -> RecordResult:
        """Store ``events`` in ``conn``'s open transaction (PostgreSQL overrides it)."""
        return writer.write_batch(conn, events)

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        with engines.translated_errors("record events"):
            try:
                with engines.writing(self.engine) as conn, conn.begin():
                    return self._write_batch(conn, events)
            except exc.DBAPIError as err:
                if not engines.is_row_error(err):
                    raise
                LOG.info("batch of %d failed (%s); retrying event by event", len(events), err.orig)
            return self._write_one_by_one(events)

    def _write_one_by_one(self, events: Sequence[Event]) -> RecordResult:
        """Each event in its own SAVEPOINT, so a bad one is reported, not fatal.

        An event whose statement was too large for the server (MySQL error
        1153) costs the connection and with it the transaction: it is
        refused, and the others are written again without it.
        """
        refused: dict[str, str] = {}
        while True:
            try:
                result = self._savepoint_each([e for e in events if e.message_id not in refused])
            except _TooLarge as too_large:
                refused[too_large.message_id] = too_large.reason
                continue
            result.failed.update(refused)
            return result

    def _savepoint_each(self, events: Sequence[Event]) -> RecordResult:
        result = RecordResult()
        with engines.writing(self.engine) as conn, conn.begin():
            for item in events:
                savepoint = conn.begin_nested()
                try:
                    result.merge(self._write_batch(conn, [item]))
                    savepoint.commit()
                except exc.DBAPIError as err:
                    if engines.is_packet_too_large(err):  # the connection is gone
                        raise _TooLarge(item.message_id) from err
                    savepoint.rollback()
                    if not engines.is_row_error(err):
                        raise
                    result.failed[item.message_id] = str(err.orig).strip().splitlines()[0]
        return result

    def _event_generated(self, message_id: str) -> dt.datetime | None:
        query = sa.select(event.c.generated).where(event.c.message_id == message_id)
        with engines.translated_errors("find marker"), self.engine.connect() as conn:
            generated: dt.datetime | None = conn.execute(query).scalar()
        return generated

    def _query_events(self, query: EventQuery) -> list[Event]:
        with engines.translated_errors("query events"), self.engine.connect() as conn:
            return reads.fetch_events(conn, query)

    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Oldest first, in transactions of at most :data:`EXPIRY_TRANSACTION` events.

        Each transaction deletes chunks of ids (bind parameters are limited);
        few, larger transactions write each page once instead of once per
        chunk: on SQLite, where expired events lie all over the tables, that
        is most of the time (a commit rewrites the pages it dirtied).
        """
        with (
            engines.translated_errors("expire events"),
            engines.writing(self.engine) as conn,
            _expiry_cache(conn),
        ):
            deleted = self._delete_in_transactions(conn, cutoff, max_count)
            with conn.begin():
                unused = ~sa.exists().where(event.c.event_type_id == type_table.c.id)
                conn.execute(sa.delete(type_table).where(unused))
        return deleted

    def _delete_in_transactions(
        self, conn: sa.Connection, cutoff: dt.datetime, max_count: int | None
    ) -> int:
        """Events and traits of :meth:`_delete_events_before`, event types left alone."""
        deleted = 0
        while max_count is None or deleted < max_count:
            size = EXPIRY_TRANSACTION if max_count is None else max_count - deleted
            with conn.begin():
                count = self._delete_some(conn, cutoff, min(size, EXPIRY_TRANSACTION))
            deleted += count
            if count < min(size, EXPIRY_TRANSACTION):
                break
        return deleted

    def _delete_some(self, conn: sa.Connection, cutoff: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` oldest events before ``cutoff`` by chunks; how many."""
        if conn.dialect.name == "sqlite":
            return _delete_oldest_at_once(conn, cutoff, limit)
        deleted = 0
        while deleted < limit:
            size = min(reads.CHUNK, limit - deleted)
            count = self._delete_chunk(conn, cutoff, size)
            deleted += count
            if count < size:
                break
        return deleted

    @staticmethod
    def _delete_chunk(conn: sa.Connection, cutoff: dt.datetime, size: int) -> int:
        # MySQL cannot LIMIT a subquery of DELETE ... IN, so select ids first.
        query = (
            sa.select(event.c.id)
            .where(event.c.generated < cutoff)
            .order_by(event.c.generated, event.c.id)
            .limit(size)
        )
        ids = list(conn.execute(query).scalars())
        if not ids:
            return 0
        for table in TRAIT_TABLES.values():  # no foreign key cascades (see schema.py)
            conn.execute(sa.delete(table).where(table.c.event_id.in_(ids)))
        return int(conn.execute(sa.delete(event).where(event.c.id.in_(ids))).rowcount)

    def get_event_types(self) -> list[str]:
        """Event types that have events, sorted by code point."""
        query = sa.select(type_table.c.desc).where(
            sa.exists().where(event.c.event_type_id == type_table.c.id)
        )
        with engines.translated_errors("list event types"), self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def _traits_of_type(self, event_type_name: str, trait_name: str | None) -> list[Any]:
        """(generated, message_id, name, dtype, value) rows, in that order."""
        selects = []
        for dtype, table in TRAIT_TABLES.items():
            query = (
                sa.select(table.c.key, table.c.value, event.c.generated, event.c.message_id)
                .join_from(table, event, table.c.event_id == event.c.id)
                .join(type_table, event.c.event_type_id == type_table.c.id)
                .where(type_table.c.desc == event_type_name)
            )
            if trait_name is not None:
                query = query.where(table.c.key == trait_name)
            selects.append((dtype, query))
        rows: list[Any] = []
        with engines.translated_errors("list traits"), self.engine.connect() as conn:
            for dtype, query in selects:
                rows.extend(
                    (generated, message_id, key, dtype, value)
                    for key, value, generated, message_id in conn.execute(query)
                )
        rows.sort(key=lambda row: row[:3])
        return rows

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        """``{'name', 'data_type'}`` of the traits of ``event_type``, sorted."""
        found: set[tuple[str, int]] = set()
        with engines.translated_errors("list trait types"), self.engine.connect() as conn:
            for dtype, table in TRAIT_TABLES.items():
                query = (
                    sa.select(table.c.key)
                    .distinct()
                    .join_from(table, event, table.c.event_id == event.c.id)
                    .join(type_table, event.c.event_type_id == type_table.c.id)
                    .where(type_table.c.desc == event_type)
                )
                found.update((key, dtype) for key in conn.execute(query).scalars())
        return [{"name": name, "data_type": dtype} for name, dtype in sorted(found)]

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        """Traits of ``event_type`` events, by event (oldest first) then name."""
        return [
            Trait(name, dtype, value)
            for _, _, name, dtype, value in self._traits_of_type(event_type, trait_type)
        ]
