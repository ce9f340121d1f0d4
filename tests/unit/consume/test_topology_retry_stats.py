"""Topology, back-off and statistics of the consumer, without a broker."""

from __future__ import annotations

import random

import pytest
from kombu import Connection
from oslo_config import cfg

from pipeline.consume import topology
from pipeline.consume.retry import Backoff, pause
from pipeline.consume.stats import Stats, log_report


def test_without_a_pool_each_topic_priority_queue_is_bound_on_every_exchange(
    conf: cfg.ConfigOpts,
) -> None:
    """Like Ceilometer: read <topic>.<priority>, bound with its own name as key."""
    conf.set_override("exchanges", ["nova", "glance"], "notification")
    conf.set_override("topics", ["notifications", "versioned"], "notification")
    conf.set_override("priorities", ["info", "error"], "notification")
    queues = topology.notification_queues(conf)
    keys = [f"{t}.{p}" for t in ("notifications", "versioned") for p in ("info", "error")]
    assert [queue.name for queue in queues] == keys
    for queue in queues:
        bound = {(b.exchange.name, b.routing_key) for b in queue.bindings}
        assert bound == {("nova", queue.name), ("glance", queue.name)}
        # oslo.messaging's defaults: non-durable, no arguments at all.
        assert not queue.durable and not queue.auto_delete and queue.queue_arguments == {}
        assert all(b.exchange.type == "topic" and not b.exchange.durable for b in queue.bindings)


def test_a_pool_is_one_queue_bound_with_every_topic_priority(conf: cfg.ConfigOpts) -> None:
    conf.set_override("exchanges", ["nova", "glance"], "notification")
    conf.set_override("priorities", ["info", "error"], "notification")
    conf.set_override("pool", "pipeline-pool", "notification")
    (queue,) = topology.notification_queues(conf)
    assert queue.name == "pipeline-pool"
    assert {(b.exchange.name, b.routing_key) for b in queue.bindings} == {
        (exchange, f"notifications.{priority}")
        for exchange in ("nova", "glance")
        for priority in ("info", "error")
    }
    assert topology.stranded_candidates(conf) == ["notifications.info", "notifications.error"]


@pytest.mark.parametrize(
    ("settings", "durable", "auto_delete", "arguments"),
    [
        ({}, False, False, {}),
        ({"amqp_durable_queues": True}, True, False, {}),
        ({"amqp_auto_delete": True}, False, True, {}),
        ({"rabbit_quorum_queue": True}, True, False, {"x-queue-type": "quorum"}),
        (
            {
                "rabbit_quorum_queue": True,
                "rabbit_quorum_delivery_limit": 5,
                "rabbit_quorum_max_memory_length": 100,
                "rabbit_quorum_max_memory_bytes": 4096,
            },
            True,
            False,
            {
                "x-queue-type": "quorum",
                "x-delivery-limit": 5,
                "x-max-in-memory-length": 100,
                "x-max-in-memory-bytes": 4096,
            },
        ),
        ({"rabbit_ha_queues": True}, False, False, {"x-ha-policy": "all"}),
    ],
)
def test_missing_oslo_entities_get_exactly_oslo_messagings_flags(
    conf: cfg.ConfigOpts,
    settings: dict[str, object],
    durable: bool,
    auto_delete: bool,
    arguments: dict[str, object],
) -> None:
    """Compared with what oslo.messaging itself computes from the same settings."""
    from oslo_messaging._drivers import impl_rabbit

    for name, value in settings.items():
        conf.set_override(name, value, "oslo_messaging_rabbit")
    flags = topology.oslo_flags(conf)
    assert (flags.durable, flags.auto_delete, flags.arguments) == (durable, auto_delete, arguments)
    quorum = conf.oslo_messaging_rabbit

    class QuorumConfig:
        delivery_limit = quorum.rabbit_quorum_delivery_limit
        max_memory_length = quorum.rabbit_quorum_max_memory_length
        max_memory_bytes = quorum.rabbit_quorum_max_memory_bytes

    theirs = impl_rabbit._get_queue_arguments(
        quorum.rabbit_ha_queues, 0, quorum.rabbit_quorum_queue, QuorumConfig, False
    )
    assert flags.arguments == theirs
    exchange = topology.notification_exchanges(conf)[0]
    assert (exchange.type, exchange.durable, exchange.auto_delete) == ("topic", durable, auto_delete)


def test_quorum_and_ha_together_is_a_configuration_error(conf: cfg.ConfigOpts) -> None:
    from pipeline.exceptions import ConfigError

    conf.set_override("rabbit_quorum_queue", True, "oslo_messaging_rabbit")
    conf.set_override("rabbit_ha_queues", True, "oslo_messaging_rabbit")
    with pytest.raises(ConfigError, match="both"):
        topology.oslo_flags(conf)


def test_feeds_read_notifications_from_every_messaging_url_and_logs_from_the_transport(
    conf: cfg.ConfigOpts,
) -> None:
    conf.set_override("transport_url", "amqp://h//pipeline")
    assert topology.feeds(conf) == [topology.Feed("amqp://h//pipeline", True, True)]
    conf.set_override("messaging_urls", ["amqp://h//nova", "amqp://h//glance"], "notification")
    assert topology.feeds(conf) == [
        topology.Feed("amqp://h//nova", True, False),
        topology.Feed("amqp://h//glance", True, False),
        topology.Feed("amqp://h//pipeline", False, True),
    ]
    conf.set_override("messaging_urls", ["amqp://h//nova", "amqp://h//pipeline"], "notification")
    assert topology.feeds(conf)[1] == topology.Feed("amqp://h//pipeline", True, True)


@pytest.mark.parametrize(
    ("oslo", "kombu_form"),
    [
        ("rabbit://u:p@h1:5672/", "amqp://u:p@h1:5672/"),
        ("rabbit://u:p@h1:5672,u:p@h2:5672/nova", "amqp://u:p@h1:5672/nova;amqp://u:p@h2:5672/nova"),
        ("rabbit://u:p@h1,h2/", "amqp://u:p@h1/;amqp://u:p@h2/"),
        ("amqp://u:p@h1:5672//", "amqp://u:p@h1:5672//"),
        ("memory://", "memory://"),
    ],
)
def test_oslo_transport_urls_become_kombu_urls(oslo: str, kombu_form: str) -> None:
    from pipeline.consume.broker import kombu_url

    assert kombu_url(oslo) == kombu_form


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
    assert loaded.notification.pool is None
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


def test_tls_options_follow_oslo_messaging_rabbit(conf: cfg.ConfigOpts) -> None:
    import ssl

    from pipeline.consume.broker import broker_connection, ssl_options

    assert ssl_options(conf, "amqp://h//") is False
    assert ssl_options(conf, "amqps://h//") is True
    conf.set_override("ssl", True, "oslo_messaging_rabbit")
    conf.set_override("ssl_ca_file", "/etc/ca.pem", "oslo_messaging_rabbit")
    conf.set_override("ssl_cert_file", "/etc/client.pem", "oslo_messaging_rabbit")
    conf.set_override("ssl_key_file", "/etc/client.key", "oslo_messaging_rabbit")
    conf.set_override("ssl_version", "TLSv1_2", "oslo_messaging_rabbit")
    conf.set_override("heartbeat_timeout_threshold", 30, "oslo_messaging_rabbit")
    assert ssl_options(conf, "amqp://h//") == {
        "ca_certs": "/etc/ca.pem",
        "cert_reqs": ssl.CERT_REQUIRED,
        "certfile": "/etc/client.pem",
        "keyfile": "/etc/client.key",
        "ssl_version": ssl.PROTOCOL_TLSv1_2,
    }
    conn = broker_connection(conf, "rabbit://u:p@h1,h2/nova")
    assert conn.ssl and conn.heartbeat == 30
    assert conn.as_uri() == "amqp://u:**@h1:5671/nova"  # the TLS port when none is given


def test_an_unknown_tls_version_is_a_configuration_error(conf: cfg.ConfigOpts) -> None:
    from pipeline.consume.broker import ssl_options
    from pipeline.exceptions import ConfigError

    conf.set_override("ssl", True, "oslo_messaging_rabbit")
    conf.set_override("ssl_version", "SSLv1", "oslo_messaging_rabbit")
    with pytest.raises(ConfigError, match="ssl_version 'SSLv1'"):
        ssl_options(conf, "amqp://h//")
