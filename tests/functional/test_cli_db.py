"""``pipeline dbsync`` and ``pipeline expire`` as an operator runs them.

The installed console script runs in a subprocess, in an empty directory
with an empty HOME, so no configuration file is found unless given, on the
``pipeline`` package these tests come with.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import pipeline
from pipeline import storage
from pipeline.models import UTC, Event, TicketRecord, Trait
from pipeline.storage import EventFilter
from pipeline.storage.impl_sqlalchemy.connection import alembic_config
from tests import servers

#: The checkout whose ``pipeline`` package the tests import.
SOURCE_ROOT = Path(pipeline.__file__).resolve().parents[1]


def pipeline_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``pipeline`` console script of this environment."""
    script = shutil.which("pipeline", path=str(Path(sys.executable).parent)) or shutil.which(
        "pipeline"
    )
    assert script, "the pipeline console script is not installed (pip install -e .)"
    # The script imports the checkout under test, not what an editable install points at.
    pythonpath = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "HOME": str(cwd), "PYTHONPATH": pythonpath}
    return subprocess.run(
        [script, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_dbsync_and_expire_work_without_any_configuration(tmp_path: Path) -> None:
    """The default is an SQLite file in the current directory; dbsync can run again."""
    for _ in range(2):
        done = pipeline_command("dbsync", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "up to date" in done.stdout
    assert (tmp_path / "pipeline.sqlite").is_file()
    conn = storage.get_connection(f"sqlite:///{tmp_path / 'pipeline.sqlite'}")
    try:
        assert conn.record_events([Event("m", "a.b", dt.datetime(2000, 1, 1))]).stored == ["m"]
    finally:
        conn.close()
    done = pipeline_command("expire", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kept forever" in done.stdout


@pytest.mark.parametrize("order", ["option first", "command first"])
def test_dbsync_takes_the_config_file_before_or_after_the_command(
    tmp_path: Path, order: str
) -> None:
    """``pipeline dbsync --config-file X`` as operators type it, like ``--config-file X dbsync``.

    The SQLite file named in X is created with the schema at alembic's head.
    """
    database = tmp_path / "named-in-config.sqlite"
    config = tmp_path / "pipeline.conf"
    config.write_text(f"[database]\nconnection = sqlite:///{database}\n")
    option = ["--config-file", str(config)]
    argv = [*option, "dbsync"] if order == "option first" else ["dbsync", *option]
    done = pipeline_command(*argv, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "named-in-config.sqlite is up to date" in done.stdout
    assert not (tmp_path / "pipeline.sqlite").exists()  # not the default database
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    assert current == ScriptDirectory.from_config(alembic_config()).get_current_head()


@contextlib.contextmanager
def _database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        with servers.sqlite_database(str(directory)) as url:
            yield url
    elif kind == "postgresql":
        with servers.postgresql_database() as url:
            yield url.replace("postgresql+psycopg://", "postgresql://")
    else:
        with servers.mysql_database() as url:
            yield url.replace("mysql+pymysql://", "mariadb://").split("?")[0]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
def test_dbsync_then_expire_with_a_config_file(tmp_path: Path, kind: str) -> None:
    """Expire deletes every expired event in batches and prints the total."""
    with _database(kind, tmp_path) as url:
        config = tmp_path / "pipeline.conf"
        config.write_text(
            f"[database]\nconnection = {url}\nevent_time_to_live = 3600\n"
            "events_delete_batch_size = 2\n"
        )
        done = pipeline_command("--config-file", str(config), "dbsync", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        now = dt.datetime.now(UTC)
        old = [
            Event(f"old{n}", "a.b", now - dt.timedelta(hours=2, minutes=n), (Trait("n", 2, n),))
            for n in range(5)
        ]
        conn = storage.get_connection(url)
        try:
            conn.record_events([*old, Event("new", "a.b", now)])
            done = pipeline_command("--config-file", str(config), "expire", cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "deleted 5 events" in done.stdout
            assert [e.message_id for e in conn.get_events(EventFilter())] == ["new"]
        finally:
            conn.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_expire_deletes_old_occurrences_and_keeps_ticket_counts(tmp_path: Path, kind: str) -> None:
    with _database(kind, tmp_path) as url:
        config = tmp_path / "pipeline.conf"
        config.write_text(
            f"[database]\nconnection = {url}\nevents_delete_batch_size = 2\n"
            "[ticketing]\noccurrence_time_to_live = 3600\n"
        )
        assert pipeline_command("--config-file", str(config), "dbsync", cwd=tmp_path).returncode == 0
        now = dt.datetime.now(UTC)
        records = [
            TicketRecord("k1", "app", now - dt.timedelta(hours=2, minutes=n), 14, "c", "m.py:1", "m")
            for n in range(3)
        ] + [TicketRecord("k1", "app", now, 14, "c", "m.py:1", "m")]
        conn = storage.get_connection(url)
        try:
            conn.record_tickets(records)  # type: ignore[attr-defined]
            done = pipeline_command("--config-file", str(config), "expire", cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "deleted 3 ticket occurrences" in done.stdout
            (ticket,) = conn.get_tickets()  # type: ignore[attr-defined]
            assert ticket.occurrence_count == 4
            assert len(conn.get_occurrences(ticket.ticket_id)) == 1  # type: ignore[attr-defined]
        finally:
            conn.close()


def test_unreachable_database_fails_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.conf"
    config.write_text(
        f"[database]\nconnection = postgresql://u:secret@127.0.0.1:{servers.free_port()}/db\n"
        "max_retries = 0\n"
    )
    done = pipeline_command("--config-file", str(config), "dbsync", cwd=tmp_path)
    assert done.returncode == 1
    assert "StorageUnavailable" in done.stderr and "secret" not in done.stderr


def test_dbsync_moves_a_postgresql_database_written_by_the_previous_layout(
    tmp_path: Path,
) -> None:
    """Revision 0004's tables, written by the SQL driver's event code: dbsync sets them
    aside, copies every event into the day partitions in batches, logs its progress,
    and drops them; the events read back the same."""
    with _database("postgresql", tmp_path) as url:
        conn = storage.get_connection(url)
        try:
            with conn.engine.begin() as sql:  # type: ignore[attr-defined]
                command.upgrade(alembic_config(sql), "0004")
            start = dt.datetime(2026, 11, 1, 23, tzinfo=UTC)
            events = [
                Event(f"m{n:05d}", f"type.{n % 3}", start + dt.timedelta(minutes=7 * n),
                      (Trait("host", 1, f"h{n % 5}"), Trait("n", 2, n), Trait("r", 3, n / 7)))
                for n in range(12000)
            ]
            for part in range(0, len(events), 1000):
                assert len(conn.record_events(events[part : part + 1000]).stored) == 1000
            config = tmp_path / "pipeline.conf"
            config.write_text(f"[database]\nconnection = {url}\n")
            done = pipeline_command("--config-file", str(config), "dbsync", cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "copied 5000 of 12000 events" in done.stderr
            assert "copied 12000 of 12000 events" in done.stderr
            assert conn.get_events(EventFilter()) == events
            assert conn.get_trait_types("type.1") == [
                {"name": "host", "data_type": 1},
                {"name": "n", "data_type": 2},
                {"name": "r", "data_type": 3},
            ]
            with conn.engine.connect() as sql:  # type: ignore[attr-defined]
                schemas = sa.inspect(sql).get_schema_names()
                days = sql.exec_driver_sql(
                    "SELECT count(*) FROM pg_inherits WHERE inhparent = 'event'::regclass"
                ).scalar()
            assert "pipeline_legacy" not in schemas and days >= 59
        finally:
            conn.close()
