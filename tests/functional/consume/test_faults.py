"""Faults on the real RabbitMQ and PostgreSQL, against ``pipeline consume`` processes.

Every test publishes a stream of distinct notifications, breaks something
mid-stream and then checks that the stored message ids are exactly the
published ones: nothing lost, nothing doubled.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable

import kombu
import psycopg
from oslo_config import cfg

from tests import servers
from tests.functional.consume.conftest import (
    AMQP_URL,
    ConsumerProcess,
    Names,
    declare_topology,
    queue_depth,
    stored_message_ids,
    wait_for,
)

#: The kill -9 stream (as the issue asks); the other faults use a shorter one
#: to stay well inside a minute on a loaded machine.
STREAM = 20_000
SHORT = 10_000


def publish_stream(names: Names, count: int, prefix: str) -> set[str]:
    """Publish ``count`` distinct notifications; return their message ids."""
    ids = [f"{prefix}-{i:06d}" for i in range(count)]
    with kombu.Connection(AMQP_URL) as conn:
        producer = kombu.Producer(conn.default_channel)
        for message_id in ids:
            body = json.dumps({
                "message_id": message_id,
                "event_type": "compute.instance.update",
                "publisher_id": "compute.host-1",
                "priority": "INFO",
                "timestamp": "2026-11-25 10:00:00.000001",
                "payload": {"instance_id": message_id, "tenant_id": "t1", "state": "active"},
            })
            producer.publish(
                body, exchange=names.exchanges[0], routing_key=f"{names.topic}.info",
                content_type="application/json", content_encoding="utf-8", delivery_mode=2,
            )
    return set(ids)


def stored_count(pg_url: str) -> int:
    url = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM event").fetchone()
        return int(row[0]) if row else 0


def assert_exactly(pg_url: str, published: set[str]) -> None:
    stored = stored_message_ids(pg_url)
    assert len(stored) == len(set(stored)), "an event is stored twice"
    missing = published - set(stored)
    assert not missing, f"{len(missing)} messages lost, e.g. {sorted(missing)[:3]}"
    assert set(stored) == published


def test_kill_9_mid_stream_and_restart_stores_every_message_exactly_once(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    declare_topology(consume_conf)
    published = publish_stream(names, STREAM, "kill")
    first = consumer_process()
    wait_for(lambda: stored_count(pg_url) >= 3000, 40, "3000 events stored")
    first.kill()
    at_kill = stored_count(pg_url)
    assert at_kill < STREAM, "the consumer was not killed mid-stream"
    consumer_process()
    wait_for(lambda: stored_count(pg_url) >= STREAM, 50, f"{STREAM} events stored")
    assert_exactly(pg_url, published)
    wait_for(lambda: queue_depth(names.queue) == 0, 10, "queue drained")


def test_sigterm_under_load_exits_0_quickly_and_loses_nothing(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    declare_topology(consume_conf)
    published = publish_stream(names, SHORT, "term")
    proc = consumer_process()
    wait_for(lambda: stored_count(pg_url) >= 3000, 40, "3000 events stored")
    proc.signal(signal.SIGTERM)
    started = time.monotonic()
    status = proc.wait(10)
    took = time.monotonic() - started
    assert status == 0, proc.output()[-2000:]
    assert took < 5, f"took {took:.1f}s to stop"
    stored = stored_message_ids(pg_url)
    assert len(stored) < len(published), "stopped mid-stream"
    # Everything acknowledged is stored, everything else is back in the queue.
    wait_for(lambda: len(stored) + queue_depth(names.queue) == len(published), 10,
             "stored + queued == published")
    assert set(stored) <= published and len(stored) == len(set(stored))
    consumer_process()
    wait_for(lambda: stored_count(pg_url) >= len(published), 40, "the rest stored afterwards")
    assert_exactly(pg_url, published)


def _close_connections_named(name: str) -> int:
    """Close, from the broker side, every connection whose connection_name is ``name``."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_connections", "pid", "client_properties", "-q"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    closed = 0
    for line in listing.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        if f'{{"connection_name","{name}"}}' in properties:
            subprocess.run(
                ["rabbitmqctl", "close_connection", pid, "test: broker restart"],
                capture_output=True, timeout=30, check=True,
            )
            closed += 1
    return closed


def test_broker_closing_the_connection_reconnects_and_continues(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    if shutil.which("rabbitmqctl") is None:
        servers.unavailable("rabbitmqctl", "not installed")
    declare_topology(consume_conf)
    published = publish_stream(names, SHORT, "close")
    proc = consumer_process()
    wait_for(lambda: stored_count(pg_url) >= 3000, 40, "3000 events stored")
    assert _close_connections_named(f"pipeline-consume pid {proc.proc.pid}") == 1
    wait_for(lambda: stored_count(pg_url) >= len(published), 50, "every event stored")
    assert proc.proc.poll() is None, "the consumer died"
    assert_exactly(pg_url, published)
    wait_for(lambda: "broker connection re-established" in proc.output(), 10, "reconnect logged")


def test_postgresql_unavailable_15s_mid_stream_loses_nothing_and_drains_after(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    declare_topology(consume_conf)
    published = publish_stream(names, SHORT, "pgdown")
    proc = consumer_process()
    wait_for(lambda: stored_count(pg_url) >= 3000, 40, "3000 events stored")
    servers.allow_postgresql_connections(pg_url, False)
    try:
        time.sleep(15)
        assert proc.proc.poll() is None, "the consumer died while storage was down"
    finally:
        servers.allow_postgresql_connections(pg_url, True)
    wait_for(lambda: stored_count(pg_url) >= len(published), 40, "backlog drained")
    assert proc.proc.poll() is None
    assert_exactly(pg_url, published)
    assert "storage unavailable" in proc.output()
