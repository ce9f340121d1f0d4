"""What a consumer records into its Prometheus metrics (kombu's in-memory transport).

The real converters, the memory storage driver and a registry of the test's
own: every outcome is counted once, per queue, per dead-letter reason class
and per event type (the first ``event_type_labels`` types by name, the rest
as ``other``), and the totals of the log line agree with the metrics.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import kombu
import pytest
from oslo_config import cfg
from prometheus_client import CollectorRegistry

from pipeline.consume import topology
from pipeline.consume.consumer import Consumer
from pipeline.consume.service import build_consumer
from pipeline.metrics.consumer import ProcessMetrics
from pipeline.storage import get_connection
from tests.unit.consume import fakes
from tests.unit.consume.test_consumer_memory import info_queue, mem_conf, publish, wait_for

__all__ = ["mem_conf"]


def notification(message_id: str, event_type: str, **payload: object) -> bytes:
    return json.dumps({
        "message_id": message_id, "event_type": event_type, "priority": "info",
        "publisher_id": "compute.host1", "timestamp": "2026-01-01T00:00:00Z",
        "payload": {"instance_id": message_id, **payload},
    }).encode()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def consumer(mem_conf: cfg.ConfigOpts, registry: CollectorRegistry) -> Iterator[Consumer]:
    mem_conf.set_override("drop_unmatched_notifications", True, "event")
    mem_conf.set_override("backlog_interval", 0.5, "metrics")
    metrics = ProcessMetrics(0, event_type_labels=2, registry=registry)
    built = build_consumer(mem_conf, get_connection("memory://"), metrics=metrics)
    thread = threading.Thread(target=built.run_until_stopped, daemon=True)
    thread.start()
    yield built
    built.stop()
    thread.join(10)
    assert not thread.is_alive()


def publish_log_records(conf: cfg.ConfigOpts, bodies: list[bytes]) -> None:
    with kombu.Connection("memory://") as conn:
        queue = topology.logging_queue(conf)
        producer = kombu.Producer(conn.default_channel)
        for body in bodies:
            producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key,
                             declare=[queue], content_type="application/json",
                             content_encoding="utf-8")


def test_every_outcome_is_counted_once_per_queue_reason_and_event_type(
    mem_conf: cfg.ConfigOpts, registry: CollectorRegistry, consumer: Consumer
) -> None:
    nova = mem_conf.notification.exchanges[0]
    info, logs = info_queue(mem_conf), mem_conf.ticketing.queue
    types = ["compute.instance.update", "image.upload", "volume.create.end"]
    good = [notification(f"n{i}", types[i % 3]) for i in range(9)]
    bad = [b"\xff\xfe", b"[1, 2]", b'{"event_type": "compute.instance.update"}']
    unmatched = [notification("u1", "nobody.defines.this")]
    publish(mem_conf, [(nova, body) for body in good + bad + unmatched])
    wait_for(lambda: consumer.stats.totals.messages == 13)
    publish(mem_conf, [(nova, good[0]), (nova, good[4])])  # stored already: duplicates
    publish_log_records(mem_conf, [
        fakes.log_record("one"), fakes.log_record("two", lineno=11),
        json.dumps({"level": "nonsense", "time": "2026-01-01T00:00:00Z"}).encode(),
        json.dumps({"level": 40, "time": "2026-01-01T00:00:00Z", "channel": "a\u0000b",
                    "lineno": 1, "filename": "x.py"}).encode(),
    ])
    wait_for(lambda: consumer.stats.totals.messages == 19)

    def sample(name: str, **labels: str) -> float:
        found = registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    assert sample("pipeline_messages_received_total", queue=info) == 15
    assert sample("pipeline_messages_acknowledged_total", queue=info) == 15
    assert sample("pipeline_messages_received_total", queue=logs) == 4
    assert sample("pipeline_messages_acknowledged_total", queue=logs) == 4
    dead = "pipeline_messages_dead_lettered_total"
    assert sample(dead, queue=info, reason="undecodable") == 1
    assert sample(dead, queue=info, reason="not_a_notification") == 2
    assert sample(dead, queue=logs, reason="conversion") == 1
    assert sample(dead, queue=logs, reason="storage_refused") == 1
    assert sample(dead, queue=info, reason="conversion") == 0  # series exists, at 0
    assert registry.get_sample_value(dead, {"queue": info, "reason": "unexpected"}) == 0
    assert sample("pipeline_messages_duplicate_total", queue=info) == 2
    assert sample("pipeline_notifications_dropped_total", queue=info) == 1
    # Two types by name, the third under "other" (first come, first named).
    stored = {t: sample("pipeline_events_stored_total", event_type=t) for t in types}
    assert sorted(stored.values()) == [0, 3, 3]
    assert sample("pipeline_events_stored_total", event_type="other") == 3
    assert sample("pipeline_ticket_occurrences_stored_total") == 2
    assert sample("pipeline_tickets_created_total") == 2  # two locations: two tickets
    assert sample("pipeline_tickets_regressed_total") == 0
    assert sample("pipeline_batch_size_messages_sum") == 19
    assert sample("pipeline_batch_write_seconds_count") >= 1
    totals = consumer.stats.totals
    assert totals.dead_lettered == 5 and totals.duplicates == 2 and totals.dropped == 1
    assert (totals.tickets_created, totals.tickets_regressed) == (2, 0)
    assert sample("pipeline_broker_connected", worker="0", broker="memory://localhost/") == 1
    wait_for(lambda: sample("pipeline_unacknowledged_messages",
                            worker="0", broker="memory://localhost/") == 0)


def test_queue_depth_is_looked_at_passively_and_falls_to_zero(
    mem_conf: cfg.ConfigOpts, registry: CollectorRegistry, consumer: Consumer
) -> None:
    nova = mem_conf.notification.exchanges[0]
    depth = {"queue": info_queue(mem_conf), "broker": "memory://localhost/"}
    wait_for(lambda: registry.get_sample_value("pipeline_queue_messages", depth) == 0)
    publish(mem_conf, [(nova, notification(f"d{i}", "image.upload")) for i in range(30)])
    wait_for(lambda: consumer.stats.totals.messages == 30)
    wait_for(lambda: registry.get_sample_value("pipeline_queue_messages", depth) == 0)
    # (kombu's memory transport counts no consumers; the real broker is in
    # tests/functional/consume/test_metrics.py.)
    assert registry.get_sample_value("pipeline_queue_consumers", depth) is not None
    dead = {"queue": mem_conf.notification.dead_letter_queue, "broker": "memory://localhost/"}
    assert registry.get_sample_value("pipeline_queue_messages", dead) == 0
