"""Serving the previous layout's events while :mod:`.migration` copies them.

The previous tables wait in the schema ``pipeline_legacy`` (with a view of
``event_type``), so the SQL driver's own event code reads them unchanged
through an engine whose ``search_path`` is that schema alone. Once the
copy has dropped the schema, those reads fail with "undefined table", which
means: nothing left there.

Merging (:class:`Merged`): the previous tables are read first, then the
new layout. The copy only ever moves events from there to here, so an
event moved between the two reads is seen twice (and kept once), never
missed; the first ``limit`` events of the union are within the first
``limit`` of each part.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from pipeline.models import Event
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy import event_reads as previous_reads
from pipeline.storage.impl_sqlalchemy.events import SQLEvents
from pipeline.storage.impl_sqlalchemy.pg_events.migration import LEGACY_SCHEMA, legacy_present
from pipeline.storage.query import EventQuery, evaluate

_T = TypeVar("_T")
#: Seconds between looks at whether the previous tables are still there.
RECHECK_S = 30.0
_UNDEFINED_TABLE = "42P01"


def undefined_table(err: BaseException) -> bool:
    """Whether ``err`` (or the database error behind it) says a table does not exist."""
    cause = err.__cause__ if err.__cause__ is not None else err
    return getattr(getattr(cause, "orig", None), "sqlstate", None) == _UNDEFINED_TABLE


class _Previous(SQLEvents):
    """The SQL driver's event reads, on the previous tables."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine


def _legacy_engine(url: sa.URL) -> sa.Engine:
    engine = engines.create_engine(url.render_as_string(hide_password=False))

    @sa_event.listens_for(engine, "connect")
    def _search_path(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {LEGACY_SCHEMA}")
        dbapi_connection.commit()

    return engine


class Legacy:
    """Whether the previous tables are still there, and reads from them."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._present: bool | None = None
        self._checked = 0.0
        self._previous: _Previous | None = None

    def present(self) -> bool:
        """True while the previous tables exist (looked up every :data:`RECHECK_S`)."""
        now = time.monotonic()
        if self._present is None or (self._present and now - self._checked > RECHECK_S):
            with (
                engines.translated_errors("look for the previous tables"),
                self.engine.connect() as conn,
            ):
                self._present = legacy_present(conn)
            self._checked = now
        if not self._present:
            self.close()
        return self._present

    def gone(self) -> None:
        """Note that the copy has dropped the previous tables."""
        self._present = False
        self.close()

    def refresh(self) -> None:
        """Look again next time whether the previous tables are there."""
        self._present = None

    def read(self, call: Callable[[_Previous], _T], empty: _T) -> _T:
        """``call`` on the previous tables; ``empty`` once they are gone."""
        if not self.present():
            return empty
        if self._previous is None:
            self._previous = _Previous(_legacy_engine(self.engine.url))
        try:
            return call(self._previous)
        except Exception as err:  # StorageError from the driver's reads, or SQLAlchemy's
            if not undefined_table(err):
                raise
            self.gone()
            return empty

    def close(self) -> None:
        """Dispose of the engine of the previous tables."""
        if self._previous is not None:
            self._previous.engine.dispose()
            self._previous = None


def merged_events(older: list[Event], newer: list[Event], query: EventQuery) -> list[Event]:
    """The answer of ``query`` over both parts (each already answered it)."""
    seen: dict[str, Event] = {e.message_id: e for e in older}
    seen.update((e.message_id, e) for e in newer)
    return evaluate(seen.values(), query)


def merged_rows(older: Iterable[Any], newer: Iterable[Any]) -> list[Any]:
    """(generated, message_id, name, dtype, value) rows of both parts, once each, sorted."""
    found = {(row[1], row[2]): row for row in older}
    found.update(((row[1], row[2]), row) for row in newer)
    return sorted(found.values(), key=lambda row: row[:3])


def previous_generated(previous: _Previous, message_id: str) -> dt.datetime | None:
    """``generated`` of ``message_id`` in the previous tables, or None."""
    return previous._event_generated(message_id)


def previous_events(previous: _Previous, query: EventQuery) -> list[Event]:
    """``query`` answered from the previous tables alone."""
    with previous.engine.connect() as conn:
        return previous_reads.fetch_events(conn, query)


def previous_expire(previous: _Previous, cutoff: dt.datetime, max_count: int | None) -> int:
    """Delete up to ``max_count`` oldest events before ``cutoff`` from the previous tables.

    Their events and traits only: ``event_type`` is shared with this layout.
    """
    with previous.engine.connect() as conn:
        return previous._delete_in_transactions(conn, cutoff, max_count)
