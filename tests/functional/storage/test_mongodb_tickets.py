"""Ticket behaviour specific to the MongoDB driver: ids, data fallback, concurrent writers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
from collections.abc import Iterator

import pymongo
import pytest

from pipeline import storage
from pipeline.exceptions import InvalidQuery, StorageError
from pipeline.models import UTC, TicketRecord
from pipeline.storage import Connection
from tests import servers

T0 = dt.datetime(2026, 11, 20, 12, 0, 0, 250001, tzinfo=UTC)
WRITERS, BATCHES, PER_BATCH, KEYS = 4, 3, 10, 5


@pytest.fixture
def mongo_url(mongodb_server_url: str) -> Iterator[str]:
    with servers.mongodb_database(mongodb_server_url) as url:
        yield url


@pytest.fixture
def mongo(mongo_url: str) -> Iterator[Connection]:
    conn = storage.get_connection(mongo_url)
    conn.upgrade()
    try:
        yield conn
    finally:
        conn.close()


def record(key: str, seconds: int, **data: object) -> TicketRecord:
    return TicketRecord(key, "app", T0 + dt.timedelta(seconds=seconds), 14, "c", "l.py:1", "m",
                        {"n": seconds, **data})


def test_ticket_ids_are_small_integers_and_times_keep_microseconds(mongo: Connection) -> None:
    ids = mongo.record_tickets([record("a", 0), record("b", 1), record("a", 2)]).ticket_ids
    assert sorted(ids.values()) == [1, 2]
    again = mongo.record_tickets([record("a", 3), record("c", 4)]).ticket_ids
    assert again[("app", "a")] == ids[("app", "a")] and again[("app", "c")] == 3
    ticket = mongo.get_ticket(ids[("app", "a")])
    assert ticket.first_occurrence_time == T0 and ticket.first_occurrence_time.microsecond == 250001
    occurrence_ids = [o.occurrence_id for o in mongo.get_occurrences(ticket.ticket_id, "time")]
    assert occurrence_ids == sorted(occurrence_ids) and len(set(occurrence_ids)) == 3


def test_data_bson_cannot_hold_is_kept_as_json(mongo: Connection, mongo_url: str) -> None:
    """JSON-safe but not BSON-safe (a 70-bit integer) data is stored as text, not refused."""
    result = mongo.record_tickets([record("a", 0, big=2**70), record("a", 1)])
    assert result.stored == 2 and not result.failed
    ticket_id = result.ticket_ids[("app", "a")]
    assert [o.data for o in mongo.get_occurrences(ticket_id, "time")] == [
        {"n": 0, "big": 2**70}, {"n": 1}]
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongo_url)
    try:
        stored = list(client.get_default_database()["occurrences"].find({}, {"_id": 0, "ticket_id": 0}))
    finally:
        client.close()
    assert sorted("data_json" in document for document in stored) == [False, True]


def keyed(key: str, seconds: int, occurrence: str) -> TicketRecord:
    """A record with an occurrence key (one delivered message)."""
    return dataclasses.replace(record(key, seconds), occurrence_key=occurrence)


def _write(url: str, writer: int, transactions: bool) -> None:
    conn = storage.get_connection(url)
    # The test server has transactions; False takes the standalone-server path.
    conn._upserts._transactions = transactions  # type: ignore[attr-defined]
    try:
        for batch in range(BATCHES):
            conn.record_tickets([
                *(record(f"k{(writer + i) % KEYS}", writer * 1000 + batch * 100 + i, w=writer)
                  for i in range(PER_BATCH)),
                keyed(f"k{batch}", -batch, f"again-{batch}"),  # every writer "redelivers" it
            ])
    finally:
        conn.close()


@pytest.mark.parametrize("transactions", [True, False], ids=["transactions", "standalone"])
def test_concurrent_writers_lose_nothing_and_make_one_ticket_per_key(
    mongo: Connection, mongo_url: str, transactions: bool
) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_write, args=(mongo_url, w, transactions)) for w in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [process.exitcode for process in writers] == [0] * WRITERS
    tickets = mongo.get_tickets(limit=None)
    assert sorted(t.record_hash for t in tickets) == [f"k{i}" for i in range(KEYS)]
    total = WRITERS * BATCHES * PER_BATCH + BATCHES  # each redelivered record once
    assert sum(t.occurrence_count for t in tickets) == total
    assert sum(len(mongo.get_occurrences(t.ticket_id, limit=None)) for t in tickets) == total


def test_values_bson_cannot_encode_raise_pipeline_errors(mongo: Connection) -> None:
    """Lone surrogates or 70-bit integers never leak bson/UnicodeEncodeError to callers."""
    bad = TicketRecord("k", "app", T0, 14, "half \ud800", "l.py:1", "m", {})
    try:
        result = mongo.record_tickets([bad])
    except StorageError as err:  # the driver's answer
        assert "cannot be stored" in str(err)
    else:  # or the shared validation's, should it learn to reject such text
        assert list(result.failed) == [0]
    with pytest.raises(InvalidQuery):
        mongo.get_tickets(channel="half \ud800")
    with pytest.raises(InvalidQuery):
        mongo.count_tickets(level=2**70)
    assert mongo.count_tickets() == 0


def test_a_failed_batch_writes_nothing_in_a_transaction(mongo: Connection, mongo_url: str) -> None:
    """Occurrence insert fails (its id is taken) after the ticket upserts: all rolled back."""
    ticket_id = mongo.record_tickets([record("a", 0)]).ticket_ids[("app", "a")]
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongo_url)
    try:
        database = client.get_default_database()
        counter = database["counters"].find_one({"_id": "ids"})
        assert counter is not None
        # The next batch's first occurrence id, taken behind the driver's back.
        database["occurrences"].insert_one({"_id": int(counter["occurrence_id"]) + 1})  # type: ignore[call-overload]
    finally:
        client.close()
    with pytest.raises(StorageError, match="nothing was written"):
        mongo.record_tickets([record("a", 1), record("b", 2)])
    assert mongo.get_ticket(ticket_id).occurrence_count == 1
    assert [t.record_hash for t in mongo.get_tickets(limit=None)] == ["a"]


@pytest.mark.parametrize("transactions", [True, False], ids=["transactions", "standalone"])
def test_redeliveries_change_nothing_with_and_without_transactions(
    mongo: Connection, transactions: bool
) -> None:
    mongo._upserts._transactions = transactions  # type: ignore[attr-defined]
    batch = [keyed("a", 0, "m1"), keyed("a", 1, "m2"), keyed("b", 2, "m3")]
    first = mongo.record_tickets(batch)
    mongo.solve_ticket(first.ticket_ids[("app", "b")])
    solved = mongo.get_ticket(first.ticket_ids[("app", "b")])
    again = mongo.record_tickets([*batch, keyed("a", 3, "m4")])
    assert again.ticket_ids == first.ticket_ids and again.stored == 4
    a = mongo.get_ticket(first.ticket_ids[("app", "a")])
    assert a.occurrence_count == 3 and a.last_occurrence_time == T0 + dt.timedelta(seconds=3)
    assert mongo.get_ticket(solved.ticket_id) == solved  # still solved, nothing counted
    assert [len(mongo.get_occurrences(t.ticket_id, limit=None)) for t in (a, solved)] == [3, 1]
    assert mongo.record_tickets(batch[2:]).ticket_ids == {("app", "b"): solved.ticket_id}


def test_a_key_inserted_after_the_lookup_reruns_the_transaction(
    mongo: Connection, mongo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer stores the same redelivered record between our key lookup
    and our insert: the transaction aborts on the duplicate and runs again."""
    other = storage.get_connection(mongo_url)
    upserts = mongo._upserts  # type: ignore[attr-defined]
    lookup = upserts._stored_keys
    calls: list[int] = []

    def late_lookup(keys: list[str], session: object) -> set[str]:
        found: set[str] = lookup(keys, session)
        if not calls:  # the other writer commits right after our first lookup
            other.record_tickets([keyed("a", 0, "m1")])
        calls.append(len(found))
        return found

    monkeypatch.setattr(upserts, "_stored_keys", late_lookup)
    try:
        result = mongo.record_tickets([keyed("a", 0, "m1"), keyed("a", 1, "m2")])
    finally:
        other.close()
    assert calls == [0, 1]  # missed, then found in the rerun
    ticket = mongo.get_ticket(result.ticket_ids[("app", "a")])
    assert ticket.occurrence_count == 2
    assert len(mongo.get_occurrences(ticket.ticket_id, limit=None)) == 2
