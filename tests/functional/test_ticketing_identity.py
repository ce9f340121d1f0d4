"""Occurrence identity through logbook's ticketing API (no broker).

Records a ``TicketingHandler`` writes directly are never redelivered: each
emit is a new occurrence, even of the very same record. Tables under a
``table_prefix`` are not managed by alembic; those made before occurrences
had keys get the key column when the handler opens them.
"""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pipeline.storage.impl_sqlalchemy.ticket_schema import occurrence_columns, ticket_columns
from pipeline.ticketing import TicketingHandler
from tests.functional.storage.databases import database_url


@pytest.mark.parametrize("synchronous", [False, True])
def test_each_emit_is_a_new_occurrence_even_of_the_same_record(
    tmp_path: pathlib.Path, synchronous: bool
) -> None:
    handler = TicketingHandler("sqlite:///" + str(tmp_path / "t.db"), synchronous=synchronous)
    try:
        record = logging.LogRecord("app", logging.ERROR, __file__, 7, "boom", (), None)
        handler.handle(record)
        handler.handle(record)
        assert handler.flush()
        [ticket] = handler.db.get_tickets()
        assert ticket.occurrence_count == 2
        assert len(handler.db.get_occurrences(ticket.ticket_id)) == 2
    finally:
        handler.close()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """A new, empty database of each SQL kind."""
    with database_url(request.param, str(tmp_path), request) as url:
        yield url


def test_prefixed_tables_made_before_occurrence_keys_get_them(sql_url: str) -> None:
    engine = sa.create_engine(sql_url)
    old = sa.MetaData()
    tickets = sa.Table("old_tickets", old, *ticket_columns(),
                       sa.UniqueConstraint("app_id", "record_hash", name="uq_old_tickets_app_hash"))
    occurrences = sa.Table("old_occurrences", old, *occurrence_columns("old_tickets"))
    when = dt.datetime(2026, 11, 20, 12)
    try:
        with engine.begin() as conn:
            old.create_all(conn)
            ticket_id = conn.execute(sa.insert(tickets).values(
                app_id="generic", record_hash="h", level=14, channel="c",
                location="l:1", module="m", first_occurrence_time=when,
                last_occurrence_time=when, occurrence_count=2, solved=False, status="open",
            )).inserted_primary_key[0]
            conn.execute(sa.insert(occurrences), [
                {"ticket_id": ticket_id, "time": when, "app_id": "generic", "data": "{}"}] * 2)
    finally:
        engine.dispose()
    handler = TicketingHandler(sql_url, table_prefix="old_")
    try:
        record = logging.LogRecord("app", logging.ERROR, __file__, 7, "boom", (), None)
        handler.handle(record)
        handler.handle(record)
        assert handler.flush()
        counts = sorted(t.occurrence_count for t in handler.db.get_tickets())
        assert counts == [2, 2]  # the old ticket kept, the new one counted twice
        with handler.db.connection.engine.connect() as conn:
            keys = list(conn.execute(sa.text("SELECT occurrence_key FROM old_occurrences")).scalars())
        assert len(keys) == 4 and keys.count(None) == 2 and len(set(keys) - {None}) == 2
    finally:
        handler.close()
