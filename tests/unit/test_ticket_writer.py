"""The background writer on its own: batching, flush, drops, retries, stop.

The writer is generic over ``prepare``/``store`` callables; here ``store``
appends to a list and raises ``StorageUnavailable`` while told to, so each
behaviour is checked exactly and quickly. The handler on real databases is
tested in tests/functional/test_ticketing_queue.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.exceptions import StorageError, StorageUnavailable
from pipeline.ticket_writer import TicketWriter, flush_all


class Storage:
    """A store callable: keeps every batch; unavailable while ``down`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.down = threading.Event()
        self.attempts = 0
        self.refuse: set[Any] = set()  # items whose batch fails with a StorageError

    @property
    def stored(self) -> list[Any]:
        return [item for batch in self.batches for item in batch]

    def __call__(self, items: list[Any]) -> None:
        self.attempts += 1
        if self.down.is_set():
            raise StorageUnavailable("connection refused")
        if self.refuse.intersection(items):
            raise StorageError("refused")
        self.batches.append(list(items))
        items.clear()


@pytest.fixture
def storage() -> Storage:
    return Storage()


@pytest.fixture
def writers() -> Iterator[list[TicketWriter]]:
    made: list[TicketWriter] = []
    yield made
    for writer in made:
        writer.close(timeout=0)


def make(storage: Storage, writers: list[TicketWriter], **options: Any) -> TicketWriter:
    writer = TicketWriter(list, storage, **options)
    writer.retry_initial, writer.retry_max = 0.01, 0.05
    writers.append(writer)
    return writer


def wait_until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_put_returns_before_anything_is_written(storage: Storage, writers: list[Any]) -> None:
    writer = make(storage, writers, batch_interval=60)
    assert writer.put("a") is True
    assert storage.batches == [] and writer.pending() == 1
    assert writer.flush(5) is True
    assert storage.batches == [["a"]] and writer.pending() == 0


def test_a_full_batch_is_written_without_waiting_for_the_interval(
    storage: Storage, writers: list[Any]
) -> None:
    writer = make(storage, writers, batch_size=10, batch_interval=60)
    for n in range(25):
        writer.put(n)
    wait_until(lambda: len(storage.stored) >= 20)
    assert all(len(batch) <= 10 for batch in storage.batches)
    writer.flush(5)
    assert storage.stored == list(range(25))


def test_a_lone_record_is_written_after_the_interval(storage: Storage, writers: list[Any]) -> None:
    writer = make(storage, writers, batch_size=1000, batch_interval=0.05)
    writer.put("alone")
    wait_until(lambda: storage.stored == ["alone"], 5)


def test_a_full_queue_drops_new_records_counts_them_and_warns_once(
    storage: Storage, writers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    writer = make(storage, writers, queue_size=100, batch_interval=60)
    with caplog.at_level(logging.WARNING, "pipeline.ticketing"):
        accepted = [writer.put(n) for n in range(250)]
    assert accepted == [True] * 100 + [False] * 150
    assert writer.dropped == 150
    assert [r.message for r in caplog.records] == [
        "ticket queue full (100 records): dropping new records until it drains"
    ]
    writer.flush(5)
    assert storage.stored == list(range(100))
    assert "150 records were dropped" in caplog.records[-1].message


def test_the_next_overflow_warns_again(
    storage: Storage, writers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    writer = make(storage, writers, queue_size=10, batch_interval=60)
    with caplog.at_level(logging.WARNING, "pipeline.ticketing"):
        for _ in range(2):
            for n in range(15):
                writer.put(n)
            writer.flush(5)
    full = [r for r in caplog.records if r.message.startswith("ticket queue full")]
    assert len(full) == 2 and writer.dropped == 10


def test_records_held_during_an_outage_count_toward_the_bound(
    storage: Storage, writers: list[Any]
) -> None:
    """The batch the thread keeps retrying is part of ``queue_size``: the bound is exact."""
    writer = make(storage, writers, queue_size=50, batch_size=20, batch_interval=0.01)
    storage.down.set()
    for n in range(30):
        writer.put(n)
    wait_until(lambda: storage.attempts >= 2)  # a batch of 20 taken and retried
    accepted = sum(writer.put(n) for n in range(30, 100))
    assert accepted == 20 and writer.dropped == 50
    storage.down.clear()
    assert writer.flush(10)
    assert storage.stored == list(range(50))


def test_an_outage_is_retried_with_single_probes_and_nothing_is_lost(
    storage: Storage, writers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    writer = make(storage, writers, batch_size=100, batch_interval=0.01)
    storage.down.set()
    with caplog.at_level(logging.INFO, "pipeline.ticketing"):
        for n in range(300):
            writer.put(n)
        wait_until(lambda: storage.attempts >= 4)
        assert writer.flush(0.05) is False  # still down
        storage.down.clear()
        assert writer.flush(10) is True
    assert storage.stored == list(range(300))
    assert len(storage.batches[0]) == 1  # the probe that found storage back
    messages = [r.message for r in caplog.records]
    assert sum(m.startswith("ticket storage unavailable") for m in messages) == 1
    assert sum(m.startswith("ticket storage available again") for m in messages) == 1


def test_back_off_grows_to_its_maximum(storage: Storage, writers: list[Any]) -> None:
    writer = make(storage, writers, batch_interval=0.01)
    writer.retry_initial, writer.retry_max = 0.02, 0.16
    storage.down.set()
    writer.put("x")
    time.sleep(1.0)  # 0.02 + 0.04 + 0.08 + 0.16 * 5 ≈ 1 s: about 8 attempts, not 50
    assert 4 <= storage.attempts <= 12
    storage.down.clear()
    assert writer.flush(5)


def test_a_store_error_other_than_unavailable_drops_that_batch_only(
    storage: Storage, writers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    writer = make(storage, writers, batch_size=2, batch_interval=60)
    storage.refuse = {"bad"}
    for item in ("ok1", "bad", "ok2", "ok3"):
        writer.put(item)
    with caplog.at_level(logging.ERROR, "pipeline.ticketing"):
        assert writer.flush(5)
    assert storage.stored == ["ok2", "ok3"]
    assert "unexpected error" in caplog.text
    writer.put("after")
    assert writer.flush(5) and storage.stored[-1] == "after"


def test_flush_waits_only_for_what_was_queued_before_it(
    storage: Storage, writers: list[Any]
) -> None:
    release = threading.Event()

    def slow_store(items: list[Any]) -> None:
        if "slow" in items:
            release.wait(10)
        storage(items)

    writer = TicketWriter(list, slow_store, batch_size=1, batch_interval=0.01)
    writers.append(writer)
    writer.put("first")
    assert writer.flush(5)
    writer.put("slow")
    assert writer.flush(0.1) is False
    release.set()
    assert writer.flush(5) and storage.stored == ["first", "slow"]


def test_close_writes_what_is_queued_and_a_later_put_starts_again(
    storage: Storage, writers: list[Any]
) -> None:
    writer = make(storage, writers, batch_interval=60)
    for n in range(500):
        writer.put(n)
    assert writer.close() is True
    assert storage.stored == list(range(500))
    writer.put("again")
    assert writer.flush(5) and storage.stored[-1] == "again"


def test_close_during_an_outage_gives_up_within_its_timeout(
    storage: Storage, writers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    writer = make(storage, writers, batch_size=10, batch_interval=0.01)
    storage.down.set()
    for n in range(25):
        writer.put(n)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, "pipeline.ticketing"):
        assert writer.close(timeout=0.3) is False
    assert time.monotonic() - started < 2.0
    assert "25 records not stored" in caplog.text
    assert storage.stored == []


def test_flush_all_flushes_every_writer_within_one_timeout(storage: Storage) -> None:
    other = Storage()
    first = TicketWriter(list, storage, batch_interval=60)
    second = TicketWriter(list, other, batch_interval=60)
    first.put(1)
    second.put(2)
    flush_all(5)
    assert storage.stored == [1] and other.stored == [2]
    other.down.set()
    second.retry_initial = 0.01
    second.put(3)
    started = time.monotonic()
    flush_all(0.3)
    assert time.monotonic() - started < 1.0
    first.close(0)
    second.close(0)


@pytest.mark.parametrize(
    "options",
    [{"queue_size": 0}, {"batch_size": 0}, {"batch_interval": 0}, {"flush_timeout": -1}],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        TicketWriter(list, list.clear, **options)
