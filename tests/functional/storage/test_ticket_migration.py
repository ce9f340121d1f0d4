"""Migration 0004 on a database holding tickets written before occurrences had keys.

On SQLite, PostgreSQL and MariaDB: the old occurrences keep a NULL key (the
unique index takes any number of NULLs), their counts stand, and from then
on a redelivered record counts once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from pipeline import storage
from pipeline.models import UTC, TicketRecord, TicketStatus
from pipeline.storage.impl_sqlalchemy import Connection
from pipeline.storage.impl_sqlalchemy.connection import alembic_config
from tests.functional.storage.databases import database_url

T0 = dt.datetime(2026, 11, 20, 12, 0, 0, 250001, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each SQL kind."""
    with database_url(request.param, str(tmp_path), request) as url:
        yield url


def _write_as_revision_0002_did(conn: Connection) -> None:
    """Schema 0002 and rows as the code of that time wrote them: no occurrence key."""
    with conn.engine.begin() as sql:
        command.upgrade(alembic_config(sql), "0002")
        for ticket_id, key, count in ((1, "a", 2), (2, "b", 1)):
            sql.execute(
                sa.text(
                    "INSERT INTO ticket (ticket_id, app_id, record_hash, level, channel, location,"
                    " module, first_occurrence_time, last_occurrence_time, occurrence_count,"
                    " solved, status) VALUES (:id, 'app', :key, 14, 'c', 'l.py:1', 'm', :t, :t,"
                    " :count, :solved, :status)"
                ),
                {"id": ticket_id, "key": key, "t": T0.replace(tzinfo=None), "count": count,
                 "solved": key == "b", "status": "solved" if key == "b" else "open"},
            )
        for ticket_id in (1, 1, 2):
            sql.execute(
                sa.text("INSERT INTO ticket_occurrence (ticket_id, time, app_id, data)"
                        " VALUES (:id, :t, 'app', '{}')"),
                {"id": ticket_id, "t": T0.replace(tzinfo=None)},
            )


def test_old_occurrences_keep_null_keys_and_new_ones_are_idempotent(url: str) -> None:
    conn = storage.get_connection(url)
    assert isinstance(conn, Connection)
    try:
        _write_as_revision_0002_did(conn)
        conn.upgrade()
        with conn.engine.connect() as sql:
            keys = sql.execute(sa.text("SELECT occurrence_key FROM ticket_occurrence")).scalars()
            assert list(keys) == [None, None, None]
        before = {t.record_hash: t for t in conn.get_tickets(limit=None)}
        assert before["a"].occurrence_count == 2 and before["b"].status is TicketStatus.SOLVED
        redelivered = TicketRecord("b", "app", T0, 14, "c", "l.py:1", "m", {}, "m-1")
        conn.record_tickets([redelivered])
        regressed = conn.get_ticket(before["b"].ticket_id)
        assert regressed.occurrence_count == 2 and regressed.status is TicketStatus.REGRESSED
        conn.record_tickets([redelivered, dataclasses.replace(redelivered, record_hash="a")])
        assert conn.get_ticket(before["b"].ticket_id) == regressed
        assert conn.get_ticket(before["a"].ticket_id) == before["a"]
        # A record without a key of its own is new each time, as before the migration.
        conn.record_tickets([dataclasses.replace(redelivered, occurrence_key=None)] * 2)
        assert conn.get_ticket(before["b"].ticket_id).occurrence_count == 4
    finally:
        conn.close()
