"""The consumer loop on kombu's in-memory transport (fast; the real broker is
exercised in tests/functional/consume)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import kombu
import pytest
from oslo_config import cfg

from pipeline.consume import topology
from pipeline.consume.consumer import Consumer
from pipeline.consume.declaring import ensure_topology
from pipeline.consume.retry import Backoff
from pipeline.consume.stats import Stats
from pipeline.consume.writer import BatchWriter
from pipeline.storage import EventFilter, get_connection
from tests.unit.consume import fakes


@pytest.fixture
def mem_conf(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    """Names of their own so tests never share in-memory queues."""
    tag = uuid.uuid4().hex[:8]
    conf.set_override("transport_url", "memory://")
    conf.set_override("exchanges", [f"nova-{tag}", f"glance-{tag}"], "notification")
    conf.set_override("topics", [f"notifications-{tag}"], "notification")
    conf.set_override("dead_letter_exchange", f"dlx-{tag}", "notification")
    conf.set_override("dead_letter_queue", f"dead-{tag}", "notification")
    conf.set_override("queue", f"logging-{tag}", "ticketing")
    conf.set_override("batch_size", 10, "notification")
    conf.set_override("batch_timeout", 0.1, "notification")
    return conf


def info_queue(conf: cfg.ConfigOpts) -> str:
    """The <topic>.info queue: the one a notifier fills and the consumer reads."""
    return f"{conf.notification.topics[0]}.info"


def publish(conf: cfg.ConfigOpts, bodies: list[tuple[str, bytes]]) -> None:
    """Publish as a notifier does: declare what is missing, then send to <topic>.info."""
    with kombu.Connection("memory://") as conn:
        ensure_topology(conn, conf, topology.Feed("memory://", True, False))
        producer = kombu.Producer(conn.default_channel)
        for exchange, body in bodies:
            producer.publish(body, exchange=exchange, routing_key=info_queue(conf),
                             content_type="application/json", content_encoding="utf-8")


@pytest.fixture
def running(mem_conf: cfg.ConfigOpts) -> Iterator[Callable[..., Consumer]]:
    threads: list[tuple[threading.Thread, Consumer]] = []

    def start(storage: object, backoff: Backoff | None = None) -> Consumer:
        stats = Stats()
        consumer = Consumer(
            mem_conf, kombu.Connection("memory://"), fakes.translator(),
            BatchWriter(storage, stats, backoff or Backoff(0.01, 0.05)),  # type: ignore[arg-type]
            stats,
            tickets=False,
        )
        thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
        thread.start()
        threads.append((thread, consumer))
        return consumer

    yield start
    for thread, consumer in threads:
        consumer.stop()
        thread.join(10)
        assert not thread.is_alive()


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def queue_size(name: str) -> int:
    with kombu.Connection("memory://") as conn:
        return int(conn.default_channel.queue_declare(name, passive=True).message_count)


def test_batches_are_stored_bad_messages_dead_lettered_and_everything_acked(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer]
) -> None:
    nova, glance = mem_conf.notification.exchanges
    bodies = [(nova if i % 2 else glance, fakes.notification(f"m{i}")) for i in range(25)]
    bodies.insert(7, (nova, b"not json at all"))
    bodies.insert(15, (glance, fakes.notification("bad", bad=True)))
    publish(mem_conf, bodies)
    storage = get_connection("memory://")
    consumer = running(storage)
    wait_for(lambda: consumer.stats.totals.messages == 27)
    stored = {e.message_id for e in storage.get_events(EventFilter())}
    assert stored == {f"m{i}" for i in range(25)}
    assert consumer.stats.totals.dead_lettered == 2
    assert queue_size(info_queue(mem_conf)) == 0

    with kombu.Connection("memory://") as conn:
        queue = topology.dead_letter_queue(mem_conf).bind(conn.default_channel)
        dead = [queue.get(no_ack=True) for _ in range(2)]
    reasons = sorted(m.headers["x-pipeline-reason"] for m in dead)
    assert reasons[0].startswith("ConversionError") and reasons[1].startswith("DecodeError")
    by_reason = {m.headers["x-pipeline-reason"][:5]: m for m in dead}
    assert by_reason["Decod"].body == b"not json at all"
    assert by_reason["Decod"].headers["x-original-exchange"] == nova
    assert by_reason["Decod"].headers["x-original-routing-key"] == info_queue(mem_conf)
    assert by_reason["Decod"].headers["x-original-queue"] == info_queue(mem_conf)


def test_a_partial_batch_is_written_after_batch_timeout(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer]
) -> None:
    publish(mem_conf, [(mem_conf.notification.exchanges[0], fakes.notification("only"))])
    storage = get_connection("memory://")
    consumer = running(storage)
    wait_for(lambda: consumer.stats.totals.events == 1, timeout=3)
    assert consumer.stats.totals.batches == 1


def test_duplicates_are_acked_and_counted(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer]
) -> None:
    exchange = mem_conf.notification.exchanges[0]
    publish(mem_conf, [(exchange, fakes.notification("same"))] * 3)
    storage = get_connection("memory://")
    consumer = running(storage)
    wait_for(lambda: consumer.stats.totals.messages == 3)
    assert consumer.stats.totals.events == 1 and consumer.stats.totals.duplicates == 2
    assert queue_size(info_queue(mem_conf)) == 0


def test_storage_outage_keeps_messages_until_storage_returns(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer]
) -> None:
    from tests.unit.consume.test_batch_writer import FlakyStorage

    exchange = mem_conf.notification.exchanges[0]
    publish(mem_conf, [(exchange, fakes.notification(f"m{i}")) for i in range(30)])
    storage = FlakyStorage(outages=4)
    consumer = running(storage)
    wait_for(lambda: consumer.stats.totals.messages == 30)
    stored = [mid for call in storage.event_calls for mid in call]
    assert sorted(stored) == sorted(f"m{i}" for i in range(30))
    assert consumer.stats.totals.storage_retries == 4


def test_sighup_style_reload_swaps_the_converter_between_messages(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer]
) -> None:
    storage = get_connection("memory://")
    consumer = running(storage)
    replacement = fakes.SimpleConverter()
    consumer.load_converter = lambda: replacement
    consumer.request_reload()
    wait_for(lambda: consumer.translator.converter is replacement, timeout=3)


def test_stop_while_storage_is_down_does_not_wait_out_the_back_off_nor_ack(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer]
) -> None:
    """(The memory transport never requeues unacked messages; the real broker
    test of SIGTERM checks they come back.)"""
    from tests.unit.consume.test_batch_writer import FlakyStorage

    exchange = mem_conf.notification.exchanges[0]
    publish(mem_conf, [(exchange, fakes.notification(f"m{i}")) for i in range(15)])
    storage = FlakyStorage(outages=10_000)
    consumer = running(storage, Backoff(20, 30))
    wait_for(lambda: consumer.stats.totals.storage_retries >= 1)
    unacked = consumer._channel.qos._delivered
    # The prefetch window admits all 15; wait until the broker handed them
    # over so the count below measures acks, not delivery timing.
    wait_for(lambda: len(unacked) == 15)
    started = time.monotonic()
    consumer.stop()
    wait_for(lambda: not consumer._background.busy, timeout=3)
    assert time.monotonic() - started < 3, "waited for the 20 s back-off"
    assert consumer.stats.totals.messages == 0 and not storage.event_calls
    assert len(unacked) == 15, "nothing was acknowledged"


def test_a_json_surrogate_escape_in_a_notification_is_one_dead_letter_not_a_batch_failure(
    mem_conf: cfg.ConfigOpts, running: Callable[..., Consumer], tmp_path: Path
) -> None:
    """``"\\ud800"`` decodes to text no database stores: the storage refuses that
    event alone, on the first attempt, and the consumer dead-letters it with
    the reason while the rest of the batch is stored (SQLite: a real database
    that cannot encode it)."""
    exchange = mem_conf.notification.exchanges[0]
    half = fakes.notification("half").replace(b'"compute.host1"', b'"compute.\\ud800"')
    publish(mem_conf, [(exchange, fakes.notification("a")), (exchange, half),
                       (exchange, fakes.notification("b"))])
    storage = get_connection(f"sqlite:///{tmp_path}/events.sqlite")
    storage.upgrade()
    consumer = running(storage)
    wait_for(lambda: consumer.stats.totals.messages == 3)
    assert sorted(e.message_id for e in storage.get_events(EventFilter())) == ["a", "b"]
    assert consumer.stats.totals.dead_lettered == 1
    assert consumer.stats.totals.storage_retries == 0, "the batch failed as a whole"
    with kombu.Connection("memory://") as conn:
        queue = topology.dead_letter_queue(mem_conf).bind(conn.default_channel)
        dead = queue.get(no_ack=True)
    assert dead.body == half
    assert dead.headers["x-pipeline-reason"] == (
        "storage refused event: trait 'service' value contains U+D800, a lone surrogate: "
        "not Unicode text (UTF-8 cannot encode it)"
    )
