"""The SQLAlchemy driver's ``table_prefix`` and ``metadata`` options, and the ticketing
backend built on them, on every SQL database.

A prefixed driver keeps its tickets in ``<prefix>tickets``/``<prefix>occurrences``
(created by ``create_ticket_tables``, not by alembic) and never touches the
driver's own ticket tables; ``SQLAlchemyBackend`` gets its tables by passing
the options to the driver, not by changing a connected driver's tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import pathlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pipeline import storage
from pipeline.exceptions import ConfigError, StorageError
from pipeline.models import UTC, TicketRecord
from pipeline.storage.impl_sqlalchemy import Connection as SQLConnection
from pipeline.storage.impl_sqlalchemy.engine import create_engine
from pipeline.ticket_backends import SQLAlchemyBackend
from tests.functional.storage.databases import database_url

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """An empty database of each SQL kind."""
    with database_url(request.param, str(tmp_path), request) as url:
        yield url


@contextlib.contextmanager
def inspected(url: str) -> Iterator[sa.Connection]:
    """A plain SQLAlchemy connection to the database of ``url``, to look at it directly."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def tables_of(url: str) -> set[str]:
    with inspected(url) as conn:
        return set(sa.inspect(conn).get_table_names())


def rows(url: str, table: str) -> int:
    with inspected(url) as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def emitted() -> logging.LogRecord:
    return logging.LogRecord("app", logging.ERROR, __file__, 7, "boom", (), None)


DATA = {"level": 40, "time": "2026-12-01T09:00:00Z", "message": "boom"}


def record(key: str, minute: int) -> TicketRecord:
    return TicketRecord(key, "app", T0 + dt.timedelta(minutes=minute), 40, "c", "f.py:1", "m", {})


def test_a_prefixed_driver_creates_and_uses_only_its_own_tables(sql_url: str) -> None:
    metadata = sa.MetaData()
    conn = storage.get_connection(sql_url, table_prefix="tp_", metadata=metadata)
    try:
        assert isinstance(conn, SQLConnection) and conn.table_prefix == "tp_"
        assert set(metadata.tables) == {"tp_tickets", "tp_occurrences"}
        conn.create_ticket_tables()
        conn.create_ticket_tables()  # idempotent
        assert {"tp_tickets", "tp_occurrences"} <= tables_of(sql_url)
        assert "ticket" not in tables_of(sql_url)  # no alembic schema was made
        result = conn.record_tickets([record("a", 2), record("a", 1), record("b", 0)])
        ticket = conn.get_ticket(result.ticket_ids[("app", "a")])
        assert ticket.occurrence_count == 2
        assert ticket.first_occurrence_time == T0 + dt.timedelta(minutes=1)
        conn.solve_ticket(ticket.ticket_id)
        conn.record_tickets([record("a", 3)])
        assert conn.get_ticket(ticket.ticket_id).status.value == "regressed"
        assert conn.count_tickets() == 2
    finally:
        conn.close()
    assert rows(sql_url, "tp_tickets") == 2 and rows(sql_url, "tp_occurrences") == 4


def test_prefixed_and_own_tables_live_side_by_side(sql_url: str) -> None:
    own = storage.get_connection(sql_url)
    prefixed = storage.get_connection(sql_url, table_prefix="side_")
    try:
        own.upgrade()
        prefixed.create_ticket_tables()
        own.record_tickets([record("own", 0)])
        prefixed.record_tickets([record("prefixed", 0), record("prefixed", 1)])
        assert [t.record_hash for t in own.get_tickets()] == ["own"]
        assert [t.occurrence_count for t in prefixed.get_tickets()] == [2]
        prefixed.clear()
        assert prefixed.count_tickets() == 0 and own.count_tickets() == 1
    finally:
        own.close()
        prefixed.close()


def test_the_backend_passes_its_options_to_the_driver(sql_url: str) -> None:
    metadata = sa.MetaData()
    backend = SQLAlchemyBackend(uri=sql_url, table_prefix="bk_", metadata=metadata)
    try:
        connection = backend.connection
        assert isinstance(connection, SQLConnection)
        assert connection.table_prefix == backend.table_prefix == "bk_"
        assert backend.metadata is metadata and connection.ticket_tables.ticket.metadata is metadata
        backend.record_ticket(emitted(), DATA, "h" * 40, "app")
        assert backend.count_tickets() == 1
    finally:
        backend.close()
    assert rows(sql_url, "bk_occurrences") == 1
    assert "ticket" not in tables_of(sql_url)


def test_autocreate_tables_false_creates_nothing(sql_url: str) -> None:
    backend = SQLAlchemyBackend(uri=sql_url, table_prefix="off_", autocreate_tables=False)
    try:
        assert not {"off_tickets", "off_occurrences"} & tables_of(sql_url)
        with pytest.raises(StorageError):
            backend.record_ticket(emitted(), DATA, "h" * 40, "app")
    finally:
        backend.close()


def test_metadata_alone_uses_logbooks_prefix(sql_url: str) -> None:
    metadata = sa.MetaData()
    backend = SQLAlchemyBackend(uri=sql_url, metadata=metadata)
    try:
        assert backend.table_prefix == "logbook_"
        assert set(metadata.tables) == {"logbook_tickets", "logbook_occurrences"}
    finally:
        backend.close()


def test_the_options_are_refused_where_they_mean_nothing(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ConfigError, match="table_prefix"):
        storage.get_connection(url, metadata=sa.MetaData())
    with pytest.raises(ConfigError, match="table_prefix"):
        storage.get_connection(url, table_prefix=7)
    with pytest.raises(ConfigError, match="SQL storage URL"):
        SQLAlchemyBackend(uri="memory://", table_prefix="x_")
