"""Migration 0003 on a database written before it: one datetime text form on SQLite.

The database is built at revision 0002 and filled with exactly the text the
writer stored until then: datetime trait values through sqlite3's default
adapter (``datetime.isoformat(" ")``, no fraction for a whole second),
everything else through SQLAlchemy's SQLite DATETIME format (always six
fraction digits). ``pipeline dbsync`` then upgrades it like an operator
would, and the stored text must be uniform and every query right.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from pipeline import storage
from pipeline.models import UTC, Event, Trait
from pipeline.storage import EventFilter
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy.connection import alembic_config
from pipeline.storage.query import OPERATORS
from tests import servers

REPO = Path(__file__).resolve().parents[3]
#: The console script's code; run with ``-c`` from REPO, this checkout's package is imported.
MAIN = "import sys; from pipeline.cli import main; sys.exit(main())"
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
BASE = dt.datetime(2024, 3, 1, 7, 0, 0)  # naive UTC, as stored
#: More trait rows than the migration rewrites per batch (1000).
COUNT = 1500
ONE_FORM = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
DATETIME_COLUMNS = {
    "event": ("generated",),
    "trait_datetime": ("value",),
    "ticket": ("first_occurrence_time", "last_occurrence_time"),
    "ticket_occurrence": ("time",),
}
OPS = OPERATORS  # Python's comparisons: the expected results


def adapter_text(when: dt.datetime) -> str:
    """What sqlite3's default datetime adapter stores (the old trait writer)."""
    return when.isoformat(" ")


def sqlalchemy_text(when: dt.datetime) -> str:
    """What SQLAlchemy's SQLite DATETIME stores (every other old write)."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def trait_time(n: int) -> dt.datetime:
    """Whole seconds for most events, a microsecond part for every third."""
    return BASE + dt.timedelta(seconds=n, microseconds=0 if n % 3 else 250_000)


def generated_time(n: int) -> dt.datetime:
    return BASE + dt.timedelta(minutes=n, microseconds=0 if n % 2 else 1)


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[str]:
    """An SQLite database at revision 0002 holding rows as the 0002-era writer stored them."""
    with servers.sqlite_database(str(tmp_path)) as url:
        engine = engines.create_engine(url)
        try:
            with engine.connect() as conn, conn.begin():
                command.upgrade(alembic_config(conn), "0002")
        finally:
            engine.dispose()
        _fill(url.removeprefix("sqlite:///"))
        yield url


def _fill(path: str) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO event_type (id, \"desc\") VALUES (1, 'compute.instance.update')")
        db.executemany(
            "INSERT INTO event (id, message_id, generated, event_type_id) VALUES (?, ?, ?, 1)",
            [(n, f"m{n:05d}", sqlalchemy_text(generated_time(n))) for n in range(COUNT)],
        )
        db.executemany(
            "INSERT INTO trait_datetime (event_id, key, value) VALUES (?, 'when', ?)",
            [(n, adapter_text(trait_time(n))) for n in range(COUNT)],
        )
        # A text trait that looks like a datetime: not a datetime column, left alone.
        db.execute("INSERT INTO trait_text VALUES (0, 'label', '2024-03-01 07:00:00')")
        db.execute(
            "INSERT INTO ticket VALUES (1, 'app', 'h', 14, 'c', 'f.py:1', 'm', ?, ?, 2, 0, 'open')",
            (sqlalchemy_text(BASE), sqlalchemy_text(BASE + dt.timedelta(seconds=1))),
        )
        db.executemany(
            "INSERT INTO ticket_occurrence (ticket_id, time, app_id, data) VALUES (1, ?, 'app', '{}')",
            [(sqlalchemy_text(BASE),), (sqlalchemy_text(BASE + dt.timedelta(seconds=1)),)],
        )
    db.close()


def _dbsync(url: str, directory: Path) -> None:
    """``pipeline dbsync`` of this checkout, as an operator runs it."""
    config = directory / "pipeline.conf"
    config.write_text(f"[database]\nconnection = {url}\n")
    done = subprocess.run(
        [sys.executable, "-c", MAIN, "--config-file", str(config), "dbsync"],
        cwd=REPO,
        env={**os.environ, "HOME": str(directory)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _stored_text(path: str) -> dict[str, list[str]]:
    db = sqlite3.connect(path)
    try:
        return {
            f"{table}.{column}": [row[0] for row in db.execute(f"SELECT {column} FROM {table}")]
            for table, columns in DATETIME_COLUMNS.items()
            for column in columns
        }
    finally:
        db.close()


def test_old_rows_really_hold_two_forms(old_database: str) -> None:
    """The fixture reproduces the defect: whole seconds stored without a fraction."""
    values = _stored_text(old_database.removeprefix("sqlite:///"))["trait_datetime.value"]
    assert "2024-03-01 07:00:01" in values and "2024-03-01 07:00:00.250000" in values
    assert not all(ONE_FORM.fullmatch(text) for text in values)


def test_dbsync_rewrites_old_rows_to_one_form_and_queries_are_right(
    old_database: str, tmp_path: Path
) -> None:
    path = old_database.removeprefix("sqlite:///")
    before = _stored_text(path)
    _dbsync(old_database, tmp_path)
    after = _stored_text(path)
    for column, texts in after.items():
        assert [text for text in texts if not ONE_FORM.fullmatch(text)] == [], column
        # Same instants as before, only the text changed.
        old = [dt.datetime.fromisoformat(text) for text in before[column]]
        assert [dt.datetime.fromisoformat(text) for text in texts] == old, column
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM trait_text").fetchall() == [("2024-03-01 07:00:00",)]
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    _assert_queries_right(old_database)


def _assert_queries_right(url: str) -> None:
    conn = storage.get_connection(url)
    try:
        wrong: list[Any] = []
        for n in (0, 1, 3, 1000, COUNT - 1):
            probe = trait_time(n).replace(tzinfo=UTC)
            for op, compare in OPS.items():
                spec = {"key": "when", "datetime": probe, "op": op}
                found = len(conn.get_events(EventFilter(traits_filter=[spec])))
                expected = sum(compare(trait_time(i), trait_time(n)) for i in range(COUNT))
                if found != expected:
                    wrong.append((op, probe, found, expected))
            at = generated_time(n).replace(tzinfo=UTC)
            found = len(conn.get_events(EventFilter(start_timestamp=at, end_timestamp=at)))
            if found != 1:
                wrong.append(("generated", at, found, 1))
        assert wrong == []
        # A whole-second event written after the upgrade is found with the old ones.
        new = Event("new", "x", BASE, (Trait("when", Trait.DATETIME_TYPE, trait_time(1)),))
        assert conn.record_events([new]).stored == ["new"]
        spec = {"key": "when", "datetime": trait_time(1).isoformat() + "Z"}
        assert sorted(e.message_id for e in conn.get_events(EventFilter(traits_filter=[spec]))) == [
            "m00001",
            "new",
        ]
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_upgrade_from_0002_leaves_real_datetime_columns_alone(kind: str) -> None:
    """On PostgreSQL and MariaDB the columns are datetime types: the rows stay as stored."""
    database = servers.postgresql_database() if kind == "postgresql" else servers.mysql_database()
    with database as url:
        engine = engines.create_engine(url)
        try:
            with engine.connect() as conn, conn.begin():
                command.upgrade(alembic_config(conn), "0002")
            conn = storage.get_connection(url)
            try:
                events = [
                    Event(
                        f"m{n}",
                        "a.b",
                        generated_time(n).replace(tzinfo=UTC),
                        (Trait("when", 4, trait_time(n).replace(tzinfo=UTC)),),
                    )
                    for n in range(5)
                ]
                assert len(conn.record_events(events).stored) == 5
                conn.upgrade()
                assert conn.get_events(EventFilter()) == events
            finally:
                conn.close()
            with engine.connect() as sql:
                version = sql.execute(sa.text("SELECT version_num FROM alembic_version"))
                assert version.scalar_one() == HEAD
        finally:
            engine.dispose()
