"""PankoReader's pages on a small SQLite database in Panko's layout (no Panko needed).

A page's traits are read with a range scan when its event ids are close
together, which also reads the traits of events between them that the
filter did not select: those must stay out of every event. An SQLite
source is read in turn with writing, not by a thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline import storage
from pipeline.importers.events import import_events, reads_ahead
from pipeline.importers.panko import EVENT, EVENT_TYPE, TRAIT_TABLES, PankoFilter, PankoReader
from pipeline.importers.summary import ImportSummary
from pipeline.models import UTC, Trait

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
KINDS = ("a", "b", "c", "d", "e")


def _database(path: Path, count: int) -> tuple[sa.Engine, dict[int, list[tuple[str, int, Any]]]]:
    """``count`` events cycling through KINDS, each with traits naming its id; the traits."""
    engine = sa.create_engine(f"sqlite:///{path}")
    EVENT.metadata.create_all(engine)
    expected: dict[int, list[tuple[str, int, Any]]] = {}
    with engine.begin() as conn:
        conn.execute(sa.insert(EVENT_TYPE), [{"id": n, "desc": kind} for n, kind in enumerate(KINDS)])
        for event_id in range(1, count + 1):
            generated = T0 + dt.timedelta(seconds=event_id)
            conn.execute(sa.insert(EVENT).values(
                id=event_id, message_id=f"m{event_id}", generated=generated, raw="{}",
                event_type_id=event_id % len(KINDS),
            ))
            traits = [("host", Trait.TEXT_TYPE, f"h{event_id}"), ("n", Trait.INT_TYPE, event_id),
                      ("at", Trait.DATETIME_TYPE, generated)]
            if event_id % 3:  # some events lack a trait type altogether
                traits.append(("load", Trait.FLOAT_TYPE, event_id / 4))
            for name, dtype, value in traits:
                conn.execute(sa.insert(TRAIT_TABLES[dtype]).values(
                    event_id=event_id, key=name, value=value))
            expected[event_id] = traits
    return engine, expected


@pytest.mark.parametrize("kinds", [KINDS, ("a", "c", "e"), ("a", "b"), ("b",)],
                         ids=["all", "3-of-5", "2-of-5", "1-of-5"])
def test_each_event_gets_exactly_its_own_traits(tmp_path: Path, kinds: tuple[str, ...]) -> None:
    engine, expected = _database(tmp_path / "panko.db", 60)
    reader = PankoReader(engine, PankoFilter(event_types=kinds))
    pages = list(reader.pages(7))
    events = [event for page in pages for event in page]
    selected = [i for i in expected if KINDS[i % len(KINDS)] in kinds]
    assert [event.panko_id for event in events] == selected
    assert all(len(page) <= 7 for page in pages)
    for event in events:
        assert event.message_id == f"m{event.panko_id}"
        assert sorted(event.traits) == sorted(expected[event.panko_id])
    engine.dispose()


def test_pages_start_after_the_given_id(tmp_path: Path) -> None:
    engine, expected = _database(tmp_path / "panko.db", 12)
    events = [event for page in PankoReader(engine).pages(5, after=9) for event in page]
    assert [(e.panko_id, sorted(e.traits)) for e in events] == [
        (i, sorted(expected[i])) for i in (10, 11, 12)
    ]
    engine.dispose()


class ThreadNames:
    """A progress that notes which threads run at each page written."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def advance(self, count: int) -> None:
        self.seen.update(thread.name for thread in threading.enumerate())


@pytest.mark.parametrize("read_ahead, reader_thread", [(None, False), (True, True)])
def test_a_local_sqlite_file_is_read_in_turn_unless_asked(
    tmp_path: Path, read_ahead: bool | None, reader_thread: bool
) -> None:
    """Reading SQLite takes this process's CPU: a reading thread would only compete."""
    engine, expected = _database(tmp_path / "panko.db", 30)
    reader = PankoReader(engine)
    assert not reads_ahead(reader)
    assert reads_ahead(PankoReader(sa.create_engine("postgresql+psycopg://h/db")))
    conn = storage.get_connection("memory://")
    summary, progress = ImportSummary("events"), ThreadNames()
    import_events(reader, conn, summary, batch_size=4, progress=progress,  # type: ignore[arg-type]
                  read_ahead=read_ahead)
    assert summary.stored == len(expected) == len(conn.get_events(None))
    assert ("import-reader" in progress.seen) is reader_thread
    conn.close()
    engine.dispose()
