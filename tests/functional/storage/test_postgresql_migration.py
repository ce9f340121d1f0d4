"""Migration 0005 on a PostgreSQL database written by the previous layout's code.

The events, from the differential corpus, are written at revision 0004
through the driver, which serves a database not yet migrated with the SQL
driver's own event code (what every PostgreSQL database ran before 0005);
after ``upgrade()`` every read must give exactly what the reference gives.
While the copy is half done, reads merge both layouts, duplicates are
found in both, and expiry reaches both.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command

from pipeline import storage
from pipeline.models import Event
from pipeline.storage import EventFilter
from pipeline.storage.impl_sqlalchemy import pg_events
from pipeline.storage.impl_sqlalchemy.connection import alembic_config
from pipeline.storage.impl_sqlalchemy.pg_events.migration import copy_legacy
from tests import servers
from tests.functional.storage import event_corpus as corpus
from tests.functional.storage.event_reference import ReferenceEvents, exact, fingerprint

SEED = 20261202


class Interrupted(Exception):
    """Stops a copy after some batches, as a killed ``pipeline dbsync`` would."""


@pytest.fixture
def old() -> Iterator[tuple[pg_events.PostgreSQLConnection, ReferenceEvents]]:
    """A database at revision 0004 holding the corpus, written as 0004's code did."""
    reference = ReferenceEvents()
    with servers.postgresql_database() as url:
        conn = storage.get_connection(url)
        assert isinstance(conn, pg_events.PostgreSQLConnection)
        try:
            with conn.engine.begin() as sql:
                command.upgrade(alembic_config(sql), "0004")
            for batch in corpus.make_batches(random.Random(SEED), 150):
                expected = reference.record(batch)
                assert sorted(conn.record_events(batch).stored) == sorted(expected.stored)
            with conn.engine.connect() as sql:  # the previous layout's tables hold them
                assert sql.execute(sa.text("SELECT count(*) FROM trait_int")).scalar()
            yield conn, reference
        finally:
            conn.close()


def _copy_stopped(conn: pg_events.PostgreSQLConnection, batch: int, batches: int) -> None:
    """Migrate the schema, then stop the copy after ``batches`` batches of ``batch`` events."""
    with conn.engine.begin() as sql:
        command.upgrade(alembic_config(sql), "head")
    assert _tables(conn) >= {"event", "trait_text"}

    def stop(done: int, total: int) -> None:
        if done >= batches * batch:
            raise Interrupted

    with pytest.raises(Interrupted):
        copy_legacy(conn.engine, conn._pg()[0], batch=batch, progress=stop)


def _agrees(conn: storage.Connection, reference: ReferenceEvents, queries: int = 150) -> None:
    """Every event, type, trait type and trait, and random queries, as the reference says."""
    got = [fingerprint(e) for e in conn.get_events(EventFilter())]
    assert got == [fingerprint(e) for e in reference.get_events(EventFilter())]
    assert conn.get_event_types() == reference.get_event_types()
    for event_type in reference.get_event_types():
        assert conn.get_trait_types(event_type) == reference.get_trait_types(event_type)
        got_traits = [(t.name, t.dtype, exact(t.value)) for t in conn.get_traits(event_type)]
        assert got_traits == [
            (t.name, t.dtype, exact(t.value)) for t in reference.get_traits(event_type)
        ]
    rng = random.Random(SEED + 1)
    ids, values = sorted(reference.events), reference.values()
    for case in range(queries):
        event_filter, pagination = corpus.random_query(rng, ids, values)
        got = [fingerprint(e) for e in conn.get_events(event_filter, pagination)]
        expected = [fingerprint(e) for e in reference.get_events(event_filter, pagination)]
        assert got == expected, (case, event_filter, pagination)


def _tables(conn: storage.Connection) -> set[str]:
    with conn.engine.connect() as sql:  # type: ignore[attr-defined]
        return set(sa.inspect(sql).get_table_names(schema="pipeline_legacy"))


def test_upgrade_moves_every_event_exactly(
    old: tuple[pg_events.PostgreSQLConnection, ReferenceEvents], caplog: pytest.LogCaptureFixture
) -> None:
    conn, reference = old
    caplog.set_level("INFO", "pipeline.storage.impl_sqlalchemy.pg_events.migration")
    conn.upgrade()
    assert not _tables(conn)  # the previous tables are gone
    assert any("copied" in message and "of" in message for message in caplog.messages)
    _agrees(conn, reference)
    first = next(iter(reference.events.values()))
    assert conn.record_events([first]).duplicates == [first.message_id]


def test_reads_writes_and_expiry_span_both_layouts_until_the_copy_ends(
    old: tuple[pg_events.PostgreSQLConnection, ReferenceEvents],
) -> None:
    """A copy stopped half way: the driver serves both; resuming finishes it."""
    conn, reference = old
    _copy_stopped(conn, batch=13, batches=2)
    _agrees(conn, reference)
    moved, waiting = _split(conn, reference)
    assert moved and waiting
    # Duplicates are found in both layouts, whatever the time they come with.
    again = [_later(reference.events[moved[0]]), _later(reference.events[waiting[0]])]
    assert sorted(conn.record_events(again).duplicates) == sorted([moved[0], waiting[0]])
    conn.upgrade()  # resumes and finishes
    assert not _tables(conn)
    _agrees(conn, reference, queries=50)


def _split(conn: storage.Connection, reference: ReferenceEvents) -> tuple[list[str], list[str]]:
    """Message ids already in the new layout, and those still in the previous tables."""
    with conn.engine.connect() as sql:  # type: ignore[attr-defined]
        here = set(sql.execute(sa.text("SELECT message_id FROM event")).scalars())
    return sorted(here), sorted(set(reference.events) - here)


def _later(event: Event) -> Event:
    return Event(event.message_id, event.event_type, event.generated + dt.timedelta(days=3))


def test_expiry_during_the_copy_reaches_the_previous_tables(
    old: tuple[pg_events.PostgreSQLConnection, ReferenceEvents],
) -> None:
    conn, reference = old
    _copy_stopped(conn, batch=20, batches=1)
    # The corpus's events lie between 1969 and 2099: expire those before 2025.
    cutoff = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    ttl = int((dt.datetime.now(dt.UTC) - cutoff).total_seconds())
    expected = sum(1 for e in reference.events.values() if e.generated < cutoff)
    assert conn.clear_expired_data(ttl) == expected
    assert 0 < expected < len(reference.events)
    left = {e.message_id for e in conn.get_events(EventFilter())}
    assert left == {m for m, e in reference.events.items() if e.generated >= cutoff}
    assert conn.get_event_types() == sorted(
        {e.event_type for e in reference.events.values() if e.generated >= cutoff}
    )
