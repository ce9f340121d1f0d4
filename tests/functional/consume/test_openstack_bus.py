"""Beside a real OpenStack bus: oslo.messaging's Notifier and listener, as the
services and Ceilometer are configured, on the real RabbitMQ.

pipeline is given the same ``[oslo_messaging_rabbit]`` settings as the
services. Whatever starts first, the broker must refuse nothing (the
notifier logs no error), every notification — also those published before
pipeline's first start — must be stored once, and the queue the notifier
fills must be drained.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
from oslo_config import cfg

from pipeline.consume.consumer import Consumer
from tests.functional.consume import oslo_clients
from tests.functional.consume.conftest import (
    AMQP_URL,
    ConsumerProcess,
    Names,
    queue_depth,
    stored_message_ids,
    unacknowledged,
    wait_for,
)

SETTINGS = {
    "oslo-defaults": {},
    "durable": {"amqp_durable_queues": True},
    "quorum": {"rabbit_quorum_queue": True},
}


def publish(notifier: Any, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        notifier.info(
            {"request_id": f"req-{i}", "project_id": "proj-1", "user_id": "user-1"},
            "compute.instance.create.end",
            {"instance_id": f"inst-{i}", "tenant_id": "proj-1", "display_name": f"vm{i}"},
        )


def apply(conf: cfg.ConfigOpts, settings: dict[str, Any]) -> None:
    for name, value in settings.items():
        conf.set_override(name, value, "oslo_messaging_rabbit")


def assert_drained(queue: str) -> None:
    wait_for(lambda: queue_depth(queue) == 0, 20, f"{queue} drained")
    wait_for(lambda: unacknowledged(queue) == 0, 20, f"{queue} fully acknowledged")


@pytest.mark.parametrize("order", ["services-first", "pipeline-first"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_every_notification_is_stored_once_whoever_starts_first(
    setting: str,
    order: str,
    consume_conf: cfg.ConfigOpts,
    names: Names,
    pg_url: str,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    settings = SETTINGS[setting]
    apply(consume_conf, settings)
    exchange = names.exchanges[0]
    with (
        oslo_clients.oslo_errors() as errors,
        oslo_clients.notifier(settings, exchange, names.topic) as notifier,
    ):
        if order == "services-first":
            publish(notifier, 15)  # a backlog from before pipeline's first start
            threaded_consumer()
            publish(notifier, 15, start=15)
        else:
            threaded_consumer()
            publish(notifier, 30)
        wait_for(lambda: len(stored_message_ids(pg_url)) >= 30, 30, "30 events stored")
    assert errors.records == [], "the broker refused the services' notifications"
    stored = stored_message_ids(pg_url)
    assert len(stored) == len(set(stored)) == 30
    assert_drained(names.queue)


def test_a_pool_gets_every_notification_beside_a_reader_of_topic_priority(
    consume_conf: cfg.ConfigOpts,
    names: Names,
    pg_url: str,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    """oslo.messaging's listener stands in for Ceilometer on <topic>.info."""
    pool = f"t-{names.tag}-pool"
    names.extra_queues.append(pool)
    consume_conf.set_override("pool", pool, "notification")
    exchange = names.exchanges[0]
    with (
        oslo_clients.oslo_errors() as errors,
        oslo_clients.listener({}, exchange, names.topic) as ceilometer,
        oslo_clients.notifier({}, exchange, names.topic) as notifier,
    ):
        threaded_consumer()
        publish(notifier, 20)
        wait_for(lambda: len(stored_message_ids(pg_url)) >= 20, 30, "20 events stored")
        wait_for(lambda: len(ceilometer.ids) >= 20, 30, "the listener got 20")
    assert errors.records == []
    assert sorted(stored_message_ids(pg_url)) == sorted(ceilometer.ids)
    assert len(set(ceilometer.ids)) == 20
    assert_drained(pool)


def test_an_existing_exchange_and_queue_with_other_flags_are_used_as_found(
    consume_conf: cfg.ConfigOpts,
    names: Names,
    pg_url: str,
    threaded_consumer: Callable[[], Consumer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Services declared durable entities; pipeline is configured with oslo's defaults."""
    exchange = names.exchanges[0]
    durable = SETTINGS["durable"]
    with (
        oslo_clients.oslo_errors() as errors,
        oslo_clients.notifier(durable, exchange, names.topic) as notifier,
    ):
        publish(notifier, 5)
        with caplog.at_level(logging.WARNING, logger="pipeline.consume"):
            threaded_consumer()
            publish(notifier, 5, start=5)
            wait_for(lambda: len(stored_message_ids(pg_url)) >= 10, 30, "10 events stored")
    assert errors.records == [], "the notifier must keep working"
    assert len(set(stored_message_ids(pg_url))) == 10
    for kind, name in (("exchange", exchange), ("queue", names.queue)):
        lines = [r.getMessage() for r in caplog.records if f"{kind} {name!r}" in r.getMessage()]
        assert len(lines) == 1, lines
        assert "other flags" in lines[0] and "durable=False" in lines[0]
        assert "current is 'true'" in lines[0], "the broker's side is named too"
    assert_drained(names.queue)


@contextlib.contextmanager
def vhosts(count: int) -> Iterator[list[str]]:
    """``count`` new vhosts the guest user may use; their AMQP URLs."""
    names = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(count)]

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    try:
        for name in names:
            ctl("add_vhost", name)
            ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield [AMQP_URL.rsplit("/", 2)[0] + f"/{name}" for name in names]
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                ctl("delete_vhost", name)


def test_two_vhosts_through_messaging_urls_are_both_stored(
    names: Names,
    pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    """openstack-ansible's layout: one vhost per service, quorum queues."""
    quorum = SETTINGS["quorum"]
    with vhosts(2) as (nova_url, glance_url):
        with (
            oslo_clients.oslo_errors() as errors,
            oslo_clients.notifier(quorum, names.exchanges[0], names.topic, url=nova_url) as nova,
            oslo_clients.notifier(
                quorum, names.exchanges[1], names.topic, url=glance_url, publisher_id="image.h1"
            ) as glance,
        ):
            publish(nova, 10)
            publish(glance, 10, start=100)
            proc = consumer_process(
                "[notification]",
                f"messaging_urls = {nova_url},{glance_url}",
                "[oslo_messaging_rabbit]",
                "rabbit_quorum_queue = true",
            )
            publish(nova, 10, start=10)
            publish(glance, 10, start=110)
            wait_for(
                lambda: len(stored_message_ids(pg_url)) >= 40 or proc.proc.poll() is not None,
                60,
                "40 events stored",
            )
        assert errors.records == []
        stored = stored_message_ids(pg_url)
        assert len(stored) == len(set(stored)) == 40, proc.output()
        for url in (nova_url, glance_url):
            with kombu.Connection(url) as conn:
                ok = conn.default_channel.queue_declare(names.queue, passive=True)
                assert ok.message_count == 0
        proc.stop()
        assert proc.proc.returncode == 0, proc.output()


def test_config_check_says_what_is_used_as_found_and_what_would_be_declared(
    names: Names, tmp_path: Path
) -> None:
    config = tmp_path / "pipeline.conf"
    config.write_text("\n".join([*names.config_lines(), "[oslo_messaging_rabbit]",
                                 "rabbit_quorum_queue = true", ""]))
    with oslo_clients.notifier({}, names.exchanges[0], names.topic) as notifier:
        publish(notifier, 1)  # declares exchange 0 and <topic>.info, non-durable
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--config-file", str(config), "config", "check"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    quorum = "durable=True, auto_delete=False, arguments={x-queue-type=quorum}"
    assert f"'{names.exchanges[0]}': exists with other flags; used as found" in out
    assert "current is 'false'" in out
    assert f"'{names.exchanges[1]}': missing; would be declared with durable=True" in out
    assert f"'{names.topic}.info': exists with other flags; used as found" in out
    assert f"'{names.topic}.error': missing; would be declared with {quorum}" in out
    # nothing was declared by the check
    with kombu.Connection(AMQP_URL) as conn, pytest.raises(conn.channel_errors):
        conn.channel().exchange_declare(names.exchanges[1], "topic", passive=True)


def test_start_up_warns_about_a_queue_another_program_reads(
    consume_conf: cfg.ConfigOpts, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    """Reading <topic>.<priority> beside Ceilometer splits its messages: say so."""
    from pipeline.consume.service import survey_broker

    with oslo_clients.listener({}, names.exchanges[0], names.topic):
        wait_for(lambda: _consumers(names.queue) == 1, 20, "the listener consumes")
        with caplog.at_level(logging.WARNING, logger="pipeline.consume"):
            survey_broker(consume_conf)
    (line,) = [r.getMessage() for r in caplog.records if names.queue in r.getMessage()]
    assert "already has 1 consumer(s)" in line and "pool" in line


def test_start_up_warns_about_a_stranded_queue_in_pool_mode(
    consume_conf: cfg.ConfigOpts, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    """In pool mode, a <topic>.<priority> queue with messages and no reader only grows."""
    from pipeline.consume.service import survey_broker

    consume_conf.set_override("pool", f"t-{names.tag}-pool", "notification")
    with oslo_clients.notifier({}, names.exchanges[0], names.topic) as notifier:
        publish(notifier, 3)
    with caplog.at_level(logging.WARNING, logger="pipeline.consume"):
        survey_broker(consume_conf)
    (line,) = [r.getMessage() for r in caplog.records if names.queue in r.getMessage()]
    assert "holds 3 messages and nobody reads it" in line


def _consumers(queue: str) -> int:
    with contextlib.suppress(Exception), kombu.Connection(AMQP_URL) as conn:
        return int(conn.default_channel.queue_declare(queue, passive=True).consumer_count)
    return 0
