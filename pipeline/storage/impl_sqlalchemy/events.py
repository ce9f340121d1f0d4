"""The event primitives of the SQLAlchemy driver: writing, expiring, listing types and traits.

A batch is one transaction of :func:`.writer.write_batch`; when the
database rejects one event of it, the batch is retried event by event in
SAVEPOINTs so only that event fails (an event too large for MySQL's
``max_allowed_packet`` costs the connection, and is refused alone).
Queries are translated by :mod:`.event_reads`; expiry deletes oldest first,
in transactions of one chunk of ids each.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
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

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        with engines.translated_errors("record events"):
            try:
                with engines.writing(self.engine) as conn, conn.begin():
                    return writer.write_batch(conn, events)
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
                    result.merge(writer.write_batch(conn, [item]))
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
        """Oldest first, in transactions of at most one chunk of ids each."""
        deleted = 0
        remaining = max_count
        with engines.translated_errors("expire events"), engines.writing(self.engine) as conn:
            while remaining is None or remaining > 0:
                size = reads.CHUNK if remaining is None else min(remaining, reads.CHUNK)
                with conn.begin():
                    count = self._delete_chunk(conn, cutoff, size)
                deleted += count
                if remaining is not None:
                    remaining -= count
                if count < size:
                    break
            with conn.begin():
                unused = ~sa.exists().where(event.c.event_type_id == type_table.c.id)
                conn.execute(sa.delete(type_table).where(unused))
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
