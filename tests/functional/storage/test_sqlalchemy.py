"""What only the SQLAlchemy driver has: migrations, dialect setup, row-level failures.

Runs on SQLite, PostgreSQL and MariaDB, each on a database of its own.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipeline import storage
from pipeline.exceptions import ConfigError, MissingExtra, StorageError, StorageUnavailable
from pipeline.models import UTC, Event, Trait
from pipeline.storage import EventFilter
from pipeline.storage.impl_sqlalchemy import Connection
from pipeline.storage.impl_sqlalchemy.engine import normalise_url
from pipeline.storage.impl_sqlalchemy.pg_events.schema import metadata as pg_metadata
from pipeline.storage.impl_sqlalchemy.schema import metadata
from tests import servers

T0 = dt.datetime(2026, 11, 23, 10, tzinfo=UTC)

#: SQL that makes the database itself reject text trait value 'poison'
#: (PostgreSQL keeps traits in one jsonb document per event: pg_events).
POISON = {
    "sqlite": "CREATE TRIGGER poison BEFORE INSERT ON trait_text WHEN NEW.value = 'poison' "
    "BEGIN SELECT RAISE(ABORT, 'poisoned value'); END",
    "postgresql": "ALTER TABLE event ADD CONSTRAINT poison "
    """CHECK (NOT traits @> '{"text": {"t": "poison"}}')""",
    "mysql": "ALTER TABLE trait_text ADD CONSTRAINT poison CHECK (value <> 'poison')",
}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connection]:
    """An upgraded SQLAlchemy driver on an empty database."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = stack.enter_context(servers.sqlite_database(str(tmp_path)))
        elif request.param == "postgresql":
            url = stack.enter_context(servers.postgresql_database())
        else:  # the scenario suite covers mysql+pymysql://, this the MariaDB dialect
            url = stack.enter_context(servers.mysql_database())
            url = url.replace("mysql+pymysql://", "mariadb://")
        conn = storage.get_connection(url)
        assert isinstance(conn, Connection)
        stack.callback(conn.close)
        conn.upgrade()
        yield conn


def _dialect(conn: Connection) -> str:
    name = conn.engine.dialect.name
    return "mysql" if name == "mariadb" else name


#: Indexes created on PostgreSQL only (True) or everywhere else (False).
POSTGRESQL_ONLY_INDEXES = {"ix_trait_text_key_value_prefix": True, "ix_trait_text_key_value": False}
#: PostgreSQL's event partitions and range indexes: made at run time, not by the migrations.
RUN_TIME = re.compile(r"^(event_p\d{8}|ix_event_range_\w+)$")


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_migrations_build_exactly_the_schema_module(sql_conn: Connection) -> None:
    """Alembic's autogenerate finds nothing to change after upgrade (and upgrade is idempotent).

    PostgreSQL has an event layout of its own (:mod:`.pg_events.schema`).
    """
    sql_conn.upgrade()
    on_postgresql = _dialect(sql_conn) == "postgresql"

    def include(_obj: object, name: str | None, type_: str, *_args: object) -> bool:
        if type_ == "index" and name in POSTGRESQL_ONLY_INDEXES:
            return POSTGRESQL_ONLY_INDEXES[name] == on_postgresql
        return not (name and RUN_TIME.match(name))

    with sql_conn.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include})
        diff = compare_metadata(context, pg_metadata if on_postgresql else metadata)
        names = set(sa.inspect(conn).get_table_names())
    assert diff == []
    if on_postgresql:
        assert {"event_type", "event", "event_catalogue"} <= names
        assert not names & {"trait_text", "trait_int", "trait_float", "trait_datetime"}
    else:
        assert {"event_type", "event", "trait_text", "trait_int", "trait_float"} <= names


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_mysql_tables_compare_text_by_code_point_without_padding(scheme: str) -> None:
    """A binary no-pad collation, whichever dialect name: 'a' != 'a ', 'B' < 'a'."""
    with servers.mysql_database() as url:
        conn = storage.get_connection(url.replace("mysql+pymysql", scheme))
        assert isinstance(conn, Connection)
        try:
            conn.upgrade()
            with conn.engine.connect() as sql:
                collations = set(
                    sql.exec_driver_sql(
                        "SELECT table_collation FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
                    ).scalars()
                )
        finally:
            conn.close()
    assert len(collations) == 1 and collations <= {"utf8mb4_nopad_bin", "utf8mb4_0900_bin"}


def test_a_row_the_database_rejects_fails_alone(sql_conn: Connection) -> None:
    """The batch is retried event by event; the database's reason is reported."""
    with sql_conn.engine.begin() as conn:
        conn.exec_driver_sql(POISON[_dialect(sql_conn)])
    batch = [
        Event("good-1", "a.b", T0, (Trait("t", 1, "fine"), Trait("n", 2, 1))),
        Event("poisoned", "a.b", T0, (Trait("t", 1, "poison"),)),
        Event("new-type", "c.d", T0, (Trait("t", 1, "poison"),)),
        Event("good-2", "a.b", T0, (Trait("t", 1, "also fine"),)),
    ]
    result = sql_conn.record_events(batch)
    assert sorted(result.stored) == ["good-1", "good-2"]
    assert sorted(result.failed) == ["new-type", "poisoned"]
    assert all("poison" in reason for reason in result.failed.values()), result.failed
    assert sorted(e.message_id for e in sql_conn.get_events(EventFilter())) == ["good-1", "good-2"]
    # The rolled back event type of the failed event left nothing behind.
    assert sql_conn.get_event_types() == ["a.b"]


def test_values_some_databases_refuse_fail_alone(sql_conn: Connection) -> None:
    """NUL characters (PostgreSQL refuses them, so every driver does) and non-finite
    floats never sink a batch."""
    batch = [
        Event("nul", "a.b", T0, (Trait("t", 1, "a\x00b"),)),
        Event("nan", "a.b", T0, (Trait("f", 3, float("nan")),)),
        Event("good", "a.b", T0, (Trait("t", 1, "ok"),)),
    ]
    result = sql_conn.record_events(batch)
    assert result.stored == ["good"] and sorted(result.failed) == ["nan", "nul"]
    assert "NUL" in result.failed["nul"]
    assert [e.message_id for e in sql_conn.get_events(EventFilter())] == ["good"]


def test_concurrent_overlapping_writers_store_each_event_exactly_once(
    sql_conn: Connection,
) -> None:
    """Three processes' worth of writers race on the same ids and new event types."""
    message_ids = [f"m{n:03d}" for n in range(150)]

    def write(seed: int) -> list[str]:
        order = random.Random(seed).sample(message_ids, len(message_ids))
        conn = storage.get_connection(sql_conn.url)
        stored: list[str] = []
        try:
            for start in range(0, len(order), 50):
                batch = [
                    Event(mid, f"type.{int(mid[1:]) % 4}", T0, (Trait("n", 2, int(mid[1:])),))
                    for mid in order[start : start + 50]
                ]
                for attempt in range(10):
                    try:
                        result = conn.record_events(batch)
                        break
                    except StorageUnavailable:  # a deadlock victim retries, like the consumer
                        time.sleep(0.05 * (attempt + 1))
                else:
                    raise AssertionError("storage stayed unavailable")
                assert not result.failed, result.failed
                stored += result.stored
        finally:
            conn.close()
        return stored

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        stored = [mid for part in pool.map(write, range(3)) for mid in part]
    assert sorted(stored) == message_ids
    events = sql_conn.get_events(EventFilter())
    assert sorted(e.message_id for e in events) == message_ids
    assert all(e.traits == (Trait("n", 2, int(e.message_id[1:])),) for e in events)
    assert sql_conn.get_event_types() == [f"type.{n}" for n in range(4)]


def test_names_longer_than_the_columns_fail_with_a_reason(sql_conn: Connection) -> None:
    long_name = "x" * 256
    result = sql_conn.record_events(
        [
            Event(long_name, "a.b", T0),
            Event("long-type", long_name, T0),
            Event("long-trait", "a.b", T0, (Trait(long_name, 1, "v"),)),
            Event("ok", "a.b", T0),
        ]
    )
    assert result.stored == ["ok"]
    assert all("255" in reason for reason in result.failed.values()) and len(result.failed) == 3


def test_missing_schema_is_a_storage_error_not_unavailability(tmp_path: Path) -> None:
    conn = storage.get_connection(f"sqlite:///{tmp_path}/empty.sqlite")
    try:
        with pytest.raises(StorageError) as caught:
            conn.get_event_types()
        assert not isinstance(caught.value, StorageUnavailable)
    finally:
        conn.close()


def test_relative_sqlite_path_is_in_the_current_directory_in_wal_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    conn = storage.get_connection("sqlite:///relative.sqlite")
    assert isinstance(conn, Connection)
    try:
        conn.upgrade()
        with conn.engine.connect() as sql:
            assert sql.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert sql.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        conn.close()
    assert (tmp_path / "relative.sqlite").is_file()


def test_unreachable_server_is_storage_unavailable() -> None:
    port = servers.free_port()
    for url in (f"postgresql://postgres@127.0.0.1:{port}/x", f"mysql://root@127.0.0.1:{port}/x"):
        with pytest.raises(StorageUnavailable):
            storage.get_connection(url)


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://u@h/db", "mysql+pymysql://u@h/db?charset=utf8mb4"),
        ("mariadb://u@h/db?charset=utf8", "mariadb+pymysql://u@h/db?charset=utf8"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
    ],
)
def test_urls_are_normalised_to_the_supported_client_libraries(url: str, expected: str) -> None:
    assert normalise_url(url).render_as_string(hide_password=False) == expected


def test_a_client_library_not_installed_names_the_extra() -> None:
    with pytest.raises(MissingExtra) as caught:
        storage.get_connection("postgresql+psycopg2://u@127.0.0.1/db")
    assert caught.value.extra == "postgresql"
    with pytest.raises(ConfigError):
        storage.get_connection("sqlite+nosuchdriver:///x.db")
