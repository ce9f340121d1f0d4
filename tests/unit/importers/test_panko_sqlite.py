"""An SQLite Panko file's traits read with sqlite3 itself give what SQLAlchemy's types give.

The fast path (:mod:`pipeline.importers.panko_sqlite`) is checked against
the SQLAlchemy path of the same reader on the same file, value by value and
type by type, with the datetime texts Panko writes and the other forms
SQLAlchemy accepts (no fraction, ``T``, an offset, a date alone, NULL).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.exceptions import StorageError
from pipeline.importers import panko_sqlite
from pipeline.importers.panko import EVENT, EVENT_TYPE, PankoFilter, PankoReader, _trait_rows
from pipeline.models import UTC

#: Datetime texts as stored in trait_datetime.value, and what they mean.
STORED_TIMES = {
    "2026-03-01 12:00:00.123456": dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    "2026-03-01 12:00:01.000000": dt.datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC),
    "2026-03-01 12:00:02": dt.datetime(2026, 3, 1, 12, 0, 2, tzinfo=UTC),
    "2026-03-01T12:00:03.5": dt.datetime(2026, 3, 1, 12, 0, 3, 500000, tzinfo=UTC),
    "2026-03-01 14:00:04+02:00": dt.datetime(2026, 3, 1, 12, 0, 4, tzinfo=UTC),
    "2026-03-01": dt.datetime(2026, 3, 1, tzinfo=UTC),
}


def _file(path: Path, count: int, times: list[str | None]) -> sa.Engine:
    """``count`` events; event n has a text, int and float trait, and ``times[n % len]``."""
    engine = sa.create_engine(f"sqlite:///{path}")
    EVENT.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(EVENT_TYPE), [{"id": 1, "desc": "a"}, {"id": 2, "desc": "b"}])
        conn.exec_driver_sql(
            "INSERT INTO event (id, message_id, generated, raw, event_type_id) VALUES (?,?,?,?,?)",
            [(n, f"m{n}", "2026-03-01 12:00:00.000000", "{}", 1 + (n % 7 == 0))
             for n in range(1, count + 1)],
        )
        for table, value in (("trait_text", lambda n: f"h{n}" * (n % 3)),
                             ("trait_int", lambda n: n * 10**12),
                             ("trait_float", lambda n: n / 8),
                             ("trait_datetime", lambda n: times[n % len(times)])):
            conn.exec_driver_sql(
                f"INSERT INTO {table} (event_id, key, value) VALUES (?, ?, ?)",
                [(n, f"k{n % 5}", value(n)) for n in range(1, count + 1)],
            )
    return engine


@pytest.mark.parametrize("times", [list(STORED_TIMES)[:2], [*STORED_TIMES, None]],
                         ids=["pankos-form", "every-form-and-null"])
@pytest.mark.parametrize("scan", [True, False], ids=["range-scan", "in-list"])
def test_rows_equal_sqlalchemys_typed_rows(tmp_path: Path, times: list[str | None], scan: bool) -> None:
    engine = _file(tmp_path / "panko.db", 40, times)
    ids = list(range(3, 38, 1 if scan else 3))
    with engine.connect() as conn:
        fast = list(panko_sqlite.trait_rows(conn.connection.driver_connection, ids, scan))
        typed = [list(map(tuple, rows)) for rows in _trait_rows(conn, ids, scan)]
    assert fast == typed
    assert [[type(value) for *_, value in rows] for rows in fast] == [
        [type(value) for *_, value in rows] for rows in typed
    ]
    datetimes = [value for *_, value in fast[3] if value is not None]
    assert datetimes and {value.tzinfo for value in datetimes} == {UTC}
    assert set(datetimes) <= set(STORED_TIMES.values())
    engine.dispose()


def test_a_text_no_datetime_parser_takes_fails_as_sqlalchemy_fails(tmp_path: Path) -> None:
    engine = _file(tmp_path / "panko.db", 4, ["yesterday"])
    with engine.connect() as conn, pytest.raises(ValueError, match="yesterday"):
        list(panko_sqlite.trait_rows(conn.connection.driver_connection, [1, 2, 3], True))
    engine.dispose()


def test_a_page_wider_than_one_in_list_gets_every_selected_events_traits(tmp_path: Path) -> None:
    """1 event in 7 is of type b: a page of them is spread over 7x its size (an IN list),
    longer than the IN_CHUNK ids bound per statement."""
    count = 7 * (panko_sqlite.IN_CHUNK + 100)
    engine = _file(tmp_path / "panko.db", count, list(STORED_TIMES)[:1])
    reader = PankoReader(engine, PankoFilter(event_types=("b",)))
    pages = list(reader.pages(panko_sqlite.IN_CHUNK + 50))
    events = [event for page in pages for event in page]
    assert len(pages) == 2 and [e.panko_id for e in events] == list(range(7, count + 1, 7))
    when = STORED_TIMES["2026-03-01 12:00:00.123456"]
    for event in events:
        n, key = event.panko_id, f"k{event.panko_id % 5}"
        assert sorted(event.traits) == sorted(
            [(key, 1, f"h{n}" * (n % 3)), (key, 2, n * 10**12), (key, 3, n / 8), (key, 4, when)]
        )
    engine.dispose()


def test_a_broken_file_is_a_storage_error_naming_the_cause(tmp_path: Path) -> None:
    """sqlite3's own errors come out as SQLAlchemy's would (the CLI prints those)."""
    path = tmp_path / "panko.db"
    _file(path, 5, list(STORED_TIMES)[:1]).dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE trait_float")
    engine = sa.create_engine(f"sqlite:///{path}")
    with pytest.raises(StorageError, match="reading the Panko database: no such table: trait_float"):
        list(PankoReader(engine).pages(3))
    engine.dispose()
