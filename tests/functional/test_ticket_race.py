"""Concurrent writers lose no record: 8 processes upsert new and shared tickets at once.

logbook's select-then-insert lost 25-70% of first occurrences in this
scenario; the driver's atomic upserts must lose none, on every SQL database and MongoDB.
Every process also writes the same redelivered records (one occurrence key
each), which must count exactly once however the writers interleave.
Some shared tickets are solved before the race: each must be reopened, and
counted as reopened (``TicketResult.regressed``) by exactly one writer, as
each ticket's creation (``created``) must be counted by exactly one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import multiprocessing
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.models import UTC, TicketRecord
from pipeline.storage import Capability, get_connection
from tests import servers
from tests.functional.storage.databases import database_url

PROCESSES = 8
NEW_KEYS = 50
SHARED_KEYS = 50
#: Records every process writes alike, as if the broker redelivered each of them 8 times.
REDELIVERED = 20
BATCH = 10
#: Shared tickets created and solved before the race (none of them redelivered).
SOLVED = range(SHARED_KEYS - 10, SHARED_KEYS)
T0 = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)


def _redelivered(n: int) -> TicketRecord:
    """The n-th record all processes write: on a shared ticket, at a time of its own."""
    return TicketRecord(f"shared-{n}", "race", T0 - dt.timedelta(seconds=n + 1), 14, "race",
                        "race.py:1", "race", {"process": -1, "seq": n}, f"message-{n}")


def _records(process: int) -> list[TicketRecord]:
    keys = [f"new-{process}-{n}" for n in range(NEW_KEYS)]
    keys += [f"shared-{n}" for n in range(SHARED_KEYS)]
    random.Random(process).shuffle(keys)
    records = [
        TicketRecord(key, "race", T0 + dt.timedelta(seconds=seq), 14, "race", "race.py:1",
                     "race", {"process": process, "seq": seq})
        for seq, key in enumerate(keys)
    ]
    for n in range(REDELIVERED):  # spread over the batches, at other places in each process
        records.insert(random.Random(process * 100 + n).randrange(len(records) + 1), _redelivered(n))
    return records


def _solved_before(url: str) -> None:
    """Create the :data:`SOLVED` shared tickets with one record each, and solve them."""
    conn = get_connection(url)
    try:
        result = conn.record_tickets([
            TicketRecord(f"shared-{n}", "race", T0 - dt.timedelta(days=1), 14, "race",
                         "race.py:1", "race", {"process": -2, "seq": n})
            for n in SOLVED
        ])
        assert result.created == len(SOLVED) and not result.regressed
        for ticket_id in result.ticket_ids.values():
            conn.solve_ticket(ticket_id)
    finally:
        conn.close()


def _writer(url: str, process: int, barrier: Any, failures: Any, counts: Any) -> None:
    """One process: wait for all, then write its records in small batches; report
    how many tickets it created and reopened."""
    try:
        conn = get_connection(url, require=[Capability.TICKETS])
        records = _records(process)
        created = regressed = 0
        barrier.wait(timeout=120)
        for start in range(0, len(records), BATCH):
            result = conn.record_tickets(records[start:start + BATCH])
            assert not result.failed, result.failed
            created, regressed = created + result.created, regressed + result.regressed
        conn.close()
        counts.put((created, regressed))
    except BaseException as err:  # reported to the test, which fails with it
        failures.put(f"process {process}: {err!r}")
        raise


@pytest.fixture(params=["postgresql", "mysql", "sqlite", "mongodb"])
def race_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An upgraded, empty database of each SQL kind and MongoDB."""
    with database_url(request.param, str(tmp_path), request) as url:
        conn = get_connection(url)
        conn.upgrade()
        conn.close()
        yield url


def test_eight_racing_writers_lose_no_record(race_url: str) -> None:
    _solved_before(race_url)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    failures, reported = context.Queue(), context.Queue()
    workers = [
        context.Process(target=_writer, args=(race_url, n, barrier, failures, reported))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    errors = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
    assert not errors and all(w.exitcode == 0 for w in workers), errors
    counts_by_writer = [reported.get(timeout=10) for _ in workers]
    # Every ticket's creation and every reopening counted by exactly one writer.
    assert sum(c for c, _ in counts_by_writer) == PROCESSES * NEW_KEYS + SHARED_KEYS - len(SOLVED)
    assert sum(r for _, r in counts_by_writer) == len(SOLVED)

    written = PROCESSES * (NEW_KEYS + SHARED_KEYS) + REDELIVERED  # each redelivery once
    written += len(SOLVED)  # the records before the race
    conn = get_connection(race_url)
    try:
        tickets = conn.get_tickets(limit=None, app_id="race")
        assert len(tickets) == PROCESSES * NEW_KEYS + SHARED_KEYS
        assert sum(t.occurrence_count for t in tickets) == written
        counts = {t.record_hash: t.occurrence_count for t in tickets}
        assert all(
            counts[f"shared-{n}"] == PROCESSES + (n < REDELIVERED) + (n in SOLVED)
            for n in range(SHARED_KEYS)
        )
        statuses = {t.record_hash: t.status.value for t in tickets}
        assert {statuses[f"shared-{n}"] for n in SOLVED} == {"regressed"}
        occurrences = {
            t.ticket_id: conn.get_occurrences(t.ticket_id, limit=None) for t in tickets
        }
        rows = [(o.data["process"], o.data["seq"]) for found in occurrences.values() for o in found]
        assert len(rows) == written  # one occurrence row per record, none doubled
        expected = {(p, s) for p in range(PROCESSES) for s in range(NEW_KEYS + SHARED_KEYS)}
        expected |= {(-1, n) for n in range(REDELIVERED)} | {(-2, n) for n in SOLVED}
        assert set(rows) == expected  # and none lost
        for ticket in tickets:
            assert ticket.first_occurrence_time == min(o.time for o in occurrences[ticket.ticket_id])
            assert ticket.last_occurrence_time == max(o.time for o in occurrences[ticket.ticket_id])
    finally:
        conn.close()


def _locked(engine: sa.Engine, key: str) -> bool:
    """True when another transaction holds the row lock of ticket ``key``."""
    probe = sa.text(
        "SELECT ticket_id FROM ticket WHERE app_id = 'app' AND record_hash = :key FOR UPDATE NOWAIT"
    )
    with engine.connect() as conn, conn.begin():
        try:
            conn.execute(probe, {"key": key})
        except sa.exc.DBAPIError:
            return True
    return False


@pytest.mark.parametrize("database", ["postgresql", "mysql"])
def test_a_deadlocked_batch_is_retried_inside_the_driver(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another client holding rows in the opposite order makes the writer the
    deadlock victim; the driver retries the batch and nothing is lost."""
    caplog.set_level(logging.INFO, logger="pipeline.storage.impl_sqlalchemy.tickets")
    databases = {"postgresql": servers.postgresql_database, "mysql": servers.mysql_database}
    with databases[database]() as url:
        conn = get_connection(url)
        conn.upgrade()
        extra = [f"x{n:02d}" for n in range(20)]
        conn.record_tickets([_one(key) for key in ("a", "b", *extra)])
        engine = sa.create_engine(url)
        results: list[Any] = []

        def write() -> None:
            try:
                results.append(conn.record_tickets([_one("a"), _one("b")]))
            except Exception as err:  # noqa: BLE001 - shown by the assertion below
                results.append(err)

        writer = threading.Thread(target=write)
        try:
            with engine.connect() as other, other.begin():
                if database == "postgresql":  # the writer's check (1 s) must fire first
                    other.execute(sa.text("SET LOCAL deadlock_timeout = '20s'"))
                # Heavier than the writer, so InnoDB also picks the writer as
                # victim; by the unique key, so that InnoDB locks these rows only.
                other.execute(
                    sa.text("UPDATE ticket SET level = level + 1"
                            " WHERE app_id = 'app' AND record_hash = :key"),
                    [{"key": key} for key in ("b", *extra)],
                )
                writer.start()
                deadline = time.monotonic() + 30
                while not _locked(engine, "a"):  # the writer holds a, then waits for b
                    assert writer.is_alive(), f"the writer ended early: {results}"
                    assert time.monotonic() < deadline, "the writer never blocked"
                    time.sleep(0.05)
                other.execute(sa.text(
                    "UPDATE ticket SET level = level + 1 WHERE app_id = 'app' AND record_hash = 'a'"))
            writer.join(60)
            assert len(results) == 1 and not results[0].failed, results
            counts = {t.record_hash: t.occurrence_count for t in conn.get_tickets(limit=None)}
            assert counts["a"] == counts["b"] == 2
            assert any("record tickets" in r.getMessage() and "retry 1" in r.getMessage()
                       for r in caplog.records)
        finally:
            writer.join(60)
            engine.dispose()
            conn.close()


def _one(key: str) -> TicketRecord:
    return TicketRecord(key, "app", T0, 14, "c", "l:1", "m", {"k": key})


@pytest.mark.parametrize("database", ["postgresql", "mysql"])
def test_a_key_stored_during_the_batch_reruns_it_with_the_lookup(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window between the start of a batch and its insert: another writer
    commits the same redelivered record there. The first attempt looks no key
    up; the unique key refuses the second occurrence, and the batch (with its
    ticket bump) is rolled back and rerun with the lookup, which finds it.
    (SQLite has no such window: BEGIN IMMEDIATE serialises writers.)"""
    from pipeline.storage.impl_sqlalchemy import ticket_writes

    databases = {"postgresql": servers.postgresql_database, "mysql": servers.mysql_database}
    with databases[database]() as url:
        conn, other = get_connection(url), get_connection(url)
        conn.upgrade()
        redelivered = dataclasses.replace(_one("a"), occurrence_key="m-1")
        lookup, upserted = ticket_writes.stored_keys, ticket_writes._upserted
        lookups: list[int] = []
        raced: list[bool] = []
        racing = threading.local()

        def counted_lookup(*args: Any) -> set[str]:
            found = lookup(*args)
            if not getattr(racing, "other", False):
                lookups.append(len(found))
            return found

        def late_upsert(*args: Any) -> Any:
            if not getattr(racing, "other", False) and not raced:
                raced.append(True)  # our first attempt: the other writer commits first
                racing.other = True
                other.record_tickets([redelivered])
                racing.other = False
            return upserted(*args)

        monkeypatch.setattr(ticket_writes, "stored_keys", counted_lookup)
        monkeypatch.setattr(ticket_writes, "_upserted", late_upsert)
        try:
            result = conn.record_tickets([redelivered, _one("a"), _one("b")])
            assert not result.failed and lookups == [1]  # no lookup, then found on the rerun
            assert (result.created, result.regressed) == (1, 0)  # b; a: the other writer's
            counts = {t.record_hash: t.occurrence_count for t in conn.get_tickets(limit=None)}
            assert counts == {"a": 2, "b": 1}
            ticket_id = result.ticket_ids[("app", "a")]
            assert len(conn.get_occurrences(ticket_id, limit=None)) == 2
        finally:
            conn.close()
            other.close()
