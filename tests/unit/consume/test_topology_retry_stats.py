"""Topology, back-off and statistics of the consumer, without a broker."""

from __future__ import annotations

import random

import pytest
from kombu import Connection
from oslo_config import cfg

from pipeline.consume import topology
from pipeline.consume.retry import Backoff, pause
from pipeline.consume.stats import Stats, log_report


def test_notification_queue_is_bound_to_every_exchange_topic_and_priority(
    conf: cfg.ConfigOpts,
) -> None:
    conf.set_override("exchanges", ["nova", "glance"], "notification")
    conf.set_override("topics", ["notifications", "versioned"], "notification")
    conf.set_override("priorities", ["info", "error"], "notification")
    queue = topology.notification_queue(conf)
    bound = {(b.exchange.name, b.routing_key) for b in queue.bindings}
    assert bound == {
        (exchange, f"{topic}.{priority}")
        for exchange in ("nova", "glance")
        for topic in ("notifications", "versioned")
        for priority in ("info", "error")
    }
    assert queue.durable and queue.name == "pipeline.notifications"
    assert all(b.exchange.type == "topic" and b.exchange.durable for b in queue.bindings)
    assert queue.queue_arguments == {"x-dead-letter-exchange": "pipeline.dlx"}


def test_logging_queue_matches_kombu_simple_queue_declaration(conf: cfg.ConfigOpts) -> None:
    """logbook's handler declares the queue with SimpleQueue: ours must be identical."""
    ours = topology.logging_queue(conf)
    with Connection("memory://") as conn:
        theirs = conn.SimpleQueue("logging").queue
    assert ours.name == theirs.name == "logging"
    assert ours.routing_key == theirs.routing_key
    assert (ours.exchange.name, ours.exchange.type, ours.exchange.durable) == (
        theirs.exchange.name, theirs.exchange.type, theirs.exchange.durable,
    )
    assert ours.durable == theirs.durable and not ours.queue_arguments


def test_dead_letter_queue_catches_every_routing_key(conf: cfg.ConfigOpts) -> None:
    conf.set_override("dead_letter_queue", "my.dead", "notification")
    queue = topology.dead_letter_queue(conf)
    assert (queue.name, queue.routing_key, queue.exchange.name) == ("my.dead", "#", "pipeline.dlx")
    assert queue.durable and queue.exchange.durable


def test_backoff_doubles_with_jitter_up_to_the_maximum_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays), "jitter makes every pause different"
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, maximum=1)


def test_pause_keeps_calling_keepalive_in_slices_until_the_time_is_spent() -> None:
    calls: list[float] = []

    def keepalive(timeout: float) -> None:
        calls.append(timeout)
        import time

        time.sleep(timeout)

    pause(0.25, keepalive, step=0.1)
    assert len(calls) >= 3 and all(0 < t <= 0.1 for t in calls)


def test_stats_report_rates_since_last_report_and_running_totals() -> None:
    stats = Stats()
    stats.totals.messages = 100
    stats.totals.events = 90
    stats.totals.dead_lettered = 2
    stats.batch_written(0.010)
    stats.batch_written(0.030)
    first = stats.report()
    assert first["messages"] == 100 and first["dead_lettered"] == 2
    assert first["messages_per_s"] > 0
    assert first["batch_write_ms_mean"] == pytest.approx(20.0)
    assert first["batch_write_ms_max"] == pytest.approx(30.0)
    second = stats.report()
    assert second["messages_per_s"] == 0 and second["messages"] == 100
    assert second["batch_write_ms_mean"] is None


def test_log_report_writes_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import json

    stream = io.StringIO()
    log_report(Stats().report(), stream)
    assert json.loads(stream.getvalue())["messages"] == 0


def test_the_sample_deployment_config_loads_and_points_at_the_local_servers() -> None:
    """etc/pipeline/pipeline.conf (used in the README) is valid for every option it sets."""
    from pathlib import Path

    from pipeline.service import prepare_service

    path = Path(__file__).resolve().parents[3] / "etc" / "pipeline" / "pipeline.conf"
    loaded = prepare_service([], config_files=[str(path)])
    assert loaded.transport_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert loaded.database.connection.startswith("postgresql+psycopg://")
    assert loaded.notification.queue_name == "pipeline.notifications"
    assert "nova" in loaded.notification.exchanges
    assert loaded.ticketing.queue == "logging"


def test_pause_returns_early_when_interrupted() -> None:
    import time

    started = time.monotonic()
    flag = {"stop": False}

    def keepalive(timeout: float) -> None:
        time.sleep(timeout)
        flag["stop"] = True

    pause(30, keepalive, step=0.05, interrupted=lambda: flag["stop"])
    assert time.monotonic() - started < 1
