"""The event half of the SQLAlchemy driver on PostgreSQL (see the package docstring).

While a migration copies the previous layout's events (:mod:`.migration`),
every read also asks the previous tables and merges (:mod:`.legacy`), and
writers look for duplicates there too. Before the migration, the SQL
driver's own event code serves the database (:mod:`.layout`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from oslo_config import cfg

from pipeline.exceptions import StorageError
from pipeline.models import Event, Trait
from pipeline.storage.base import RecordResult
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy.events import SQLEvents
from pipeline.storage.impl_sqlalchemy.pg_events import (
    catalogue,
    expiry,
    legacy,
    range_indexes,
    reads,
    state,
    writes,
)
from pipeline.storage.impl_sqlalchemy.pg_events.layout import Layout, layout_aware
from pipeline.storage.impl_sqlalchemy.pg_events.migration import (
    LEGACY_SCHEMA,
    copy_legacy,
    legacy_present,
)
from pipeline.storage.impl_sqlalchemy.pg_events.partitions import AHEAD, Partitions
from pipeline.storage.impl_sqlalchemy.pg_events.schema import (
    event,
    event_catalogue,
    event_message,
    event_type,
)
from pipeline.storage.impl_sqlalchemy.pg_events.writes import PartitionMissing
from pipeline.storage.impl_sqlalchemy.ticket_schema import TicketTables
from pipeline.storage.query import EventQuery

LOG = logging.getLogger(__name__)
#: Events deleted per transaction at the edge of expiry without ``[database]``.
DEFAULT_DELETE_CHUNK = 10000


class PostgreSQLEvents(SQLEvents):
    """Events in the PostgreSQL layout; the SQL driver's own serve a database not migrated yet.

    Needs ``self.engine`` and ``self.conf`` (may be None).
    """

    engine: sa.Engine
    conf: cfg.ConfigOpts | None
    ticket_tables: TicketTables
    #: ``pipeline expire`` need not cut expiry into batches (see :mod:`.expiry`).
    expires_in_bounded_steps: ClassVar[bool] = True

    def _pg(self) -> tuple[Partitions, legacy.Legacy]:
        """This connection's partition cache and view of the previous tables."""
        state: tuple[Partitions, legacy.Legacy] | None = self.__dict__.get("_pg_state")
        if state is None:
            state = self.__dict__["_pg_state"] = (
                Partitions(self.engine),
                legacy.Legacy(self.engine),
            )
        return state

    def _known(self) -> catalogue.Known:
        """The catalogue rows this connection knows are stored (:mod:`.catalogue`)."""
        found: catalogue.Known | None = self.__dict__.get("_pg_known")
        if found is None:
            found = self.__dict__["_pg_known"] = catalogue.Known()
        return found

    def _layout(self) -> Layout:
        """Which layout the database has (:mod:`.layout`)."""
        found: Layout | None = self.__dict__.get("_pg_layout")
        if found is None:
            found = self.__dict__["_pg_layout"] = Layout(self.engine)
        return found

    @layout_aware
    def _write_batch(self, conn: sa.Connection, events: Sequence[Event]) -> RecordResult:
        previous = self._pg()[1]
        return writes.write_batch(conn, events, self._known(), legacy=previous.present())

    @layout_aware
    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        """Make sure the batch's partitions exist, then write as the SQL driver does."""
        partitions, previous = self._pg()
        for attempt in (1, 2):
            with engines.translated_errors("add event partitions"):
                partitions.ensure((item.generated for item in events), ahead=AHEAD)
            known = self._known()
            known.rolled_back()  # nothing of an earlier call is pending
            try:
                result: RecordResult = super()._write_events(events)  # type: ignore[misc]
                known.committed()
                return result
            except PartitionMissing:
                # Expiry dropped a partition we still knew: look again, once.
                if attempt == 2:
                    raise
                partitions.forget()
            except StorageError as err:
                # The copy dropped the previous tables after we last looked.
                if attempt == 2 or not legacy.undefined_table(err):
                    raise
                previous.refresh()
        raise AssertionError("unreachable")

    @layout_aware
    def _event_generated(self, message_id: str) -> dt.datetime | None:
        with engines.translated_errors("find marker"):
            with self.engine.connect() as conn:
                generated: dt.datetime | None = reads.generated_of(conn, message_id)
            if generated is None:
                generated = self._pg()[1].read(
                    lambda previous: legacy.previous_generated(previous, message_id), None
                )
        return generated

    @layout_aware
    def _query_events(self, query: EventQuery) -> list[Event]:
        with engines.translated_errors("query events"):
            previous = self._pg()[1]
            older = previous.read(lambda p: legacy.previous_events(p, query), None)
            with self.engine.connect() as conn:
                newer = reads.fetch_events(conn, query)
        return newer if older is None else legacy.merged_events(older, newer, query)

    @layout_aware
    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        chunk = DEFAULT_DELETE_CHUNK
        if self.conf is not None:
            chunk = self.conf.database.events_delete_batch_size
        partitions, previous = self._pg()
        with engines.translated_errors("expire events"):
            # The previous tables' events (older than any here) go first.
            deleted = previous.read(lambda p: legacy.previous_expire(p, cutoff, max_count), 0)
            left = None if max_count is None else max_count - deleted
            if left is None or left > 0:
                deleted += expiry.delete_before(self.engine, partitions, cutoff, left, chunk)
        return deleted

    @layout_aware
    def get_event_types(self) -> list[str]:
        """Event types that have events, sorted by code point (from the catalogue)."""
        with engines.translated_errors("list event types"):
            none: list[str] = []
            older = self._pg()[1].read(lambda previous: previous.get_event_types(), none)
            with self.engine.connect() as conn:
                newer = catalogue.event_types(conn)
        return sorted({*older, *newer})

    @layout_aware
    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        """``{'name', 'data_type'}`` of the traits of ``event_type``, sorted (from the catalogue)."""
        with engines.translated_errors("list trait types"):
            empty: list[dict[str, Any]] = []
            older = self._pg()[1].read(lambda previous: previous.get_trait_types(event_type), empty)
            with self.engine.connect() as conn:
                newer = catalogue.trait_types(conn, event_type)
        found = {(item["name"], item["data_type"]) for item in older} | set(newer)
        return [{"name": name, "data_type": dtype} for name, dtype in sorted(found)]

    @layout_aware
    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        """Traits of ``event_type`` events, by event (oldest first) then name."""
        with engines.translated_errors("list traits"):
            older = self._pg()[1].read(
                lambda previous: previous._traits_of_type(event_type, trait_type), None
            )
            with self.engine.connect() as conn:
                rows = reads.trait_rows(conn, event_type, trait_type)
        if older is not None:
            rows = legacy.merged_rows(older, rows)
        return [Trait(name, dtype, value) for _, _, name, dtype, value in rows]

    @layout_aware
    def clear(self) -> None:
        """Delete every row of the event tables and of the ticket tables in use.

        The schema and the partitions stay.
        """
        with engines.translated_errors("clear"), self.engine.begin() as conn:
            tables = (*reversed(self.ticket_tables), event_catalogue, event_message, event)
            for table in (*tables, event_type):
                conn.execute(sa.delete(table))
            state.bump(conn)
            if legacy_present(conn):
                conn.exec_driver_sql(f"DROP SCHEMA {LEGACY_SCHEMA} CASCADE")
        self._pg()[1].gone()

    def _after_upgrade(self) -> None:
        """Partitions for the next days, range indexes, the previous layout's events copied."""
        self._layout().changed()
        partitions, previous = self._pg()
        with engines.translated_errors("add event partitions"):
            partitions.ensure([dt.datetime.now(dt.UTC)], ahead=AHEAD)
        listed = range_indexes.DEFAULT
        if self.conf is not None:
            listed = self.conf.database.postgresql_range_traits
        with engines.translated_errors("create range indexes"):
            range_indexes.ensure(self.engine, range_indexes.parse(listed))
        with engines.translated_errors("copy the previous layout's events"):
            copy_legacy(self.engine, partitions)
        previous.refresh()
