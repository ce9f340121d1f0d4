"""Ticket counts stay exact when RabbitMQ delivers a log record again (real broker, PostgreSQL).

The broker delivers at least once: a message published twice with one id,
or stored and then redelivered because the consumer's connection died
before its acknowledgement, must add one occurrence, not two.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import kombu
import pytest
from oslo_config import cfg

from pipeline import storage
from pipeline.consume.consumer import Consumer
from pipeline.consume.service import build_consumer
from pipeline.models import Ticket
from tests import servers
from tests.functional.consume.conftest import AMQP_URL, Names, declare_topology, wait_for


def log_record(message: str, lineno: int, when: dt.datetime) -> bytes:
    """A logbook-shaped record as logbook's MessageQueueHandler publishes it."""
    return json.dumps({
        "channel": "billing", "level": 14, "message": message, "msg": message, "args": [],
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "filename": "billing/pay.py",
        "lineno": lineno, "module": "billing.pay", "func_name": "pay", "process": 4242,
        "thread": 1, "thread_name": "MainThread", "extra": {"app_id": "billing"},
    }).encode()


def error_notification(message_id: str) -> bytes:
    return json.dumps({
        "message_id": message_id, "event_type": "compute.instance.create.error",
        "publisher_id": "compute.host-1", "priority": "ERROR",
        "timestamp": "2026-11-25 10:00:00.000001",
        "payload": {"instance_id": "i-1", "exception": "NoValidHost: no host"},
    }).encode()


def publish(names: Names, messages: list[tuple[bytes, str | None, bool]]) -> None:
    """Publish ``(body, message_id, is_log_record)`` messages, persistent, confirmed."""
    with kombu.Connection(AMQP_URL, transport_options={"confirm_publish": True}) as conn:
        producer = kombu.Producer(conn.default_channel)
        for body, message_id, is_log in messages:
            properties: dict[str, Any] = {} if message_id is None else {"message_id": message_id}
            producer.publish(
                body,
                exchange=names.logging if is_log else names.exchanges[0],
                routing_key=names.logging if is_log else f"{names.topic}.error",
                content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                **properties,
            )


T0 = dt.datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=dt.UTC)
#: Three records (with an AMQP message id, without one, an error notification).
FIRST = [(log_record("card declined", 10, T0), "m-1", True),
         (log_record("gateway down", 20, T0), None, True),
         (error_notification("n-1"), None, False)]


def tickets_by_location(pg_url: str) -> dict[str, Ticket]:
    conn = storage.get_connection(pg_url)
    try:
        return {t.location: t for t in conn.get_tickets(limit=None)}
    finally:
        conn.close()


def occurrence_total(pg_url: str) -> int:
    conn = storage.get_connection(pg_url)
    try:
        return sum(len(conn.get_occurrences(t.ticket_id, limit=None))
                   for t in conn.get_tickets(limit=None))
    finally:
        conn.close()


def test_messages_published_again_with_the_same_identity_count_once(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    declare_topology(consume_conf)
    publish(names, FIRST + FIRST)  # twice in one go: mostly in one batch
    consumer = threaded_consumer()
    wait_for(lambda: consumer.stats.totals.tickets == 6, 30, "6 ticket records handled")
    counts = {loc: t.occurrence_count for loc, t in tickets_by_location(pg_url).items()}
    assert sorted(counts.values()) == [1, 1, 1], counts
    # Again later (another batch), beside a genuinely new record of the same line.
    publish(names, [*FIRST, (log_record("card declined", 10, T0 + dt.timedelta(seconds=1)),
                             "m-2", True)])
    wait_for(lambda: consumer.stats.totals.tickets == 10, 30, "10 ticket records handled")
    tickets = tickets_by_location(pg_url)
    assert tickets["billing/pay.py:10"].occurrence_count == 2
    assert tickets["billing/pay.py:10"].last_occurrence_time == T0 + dt.timedelta(seconds=1)
    assert tickets["billing/pay.py:20"].occurrence_count == 1
    assert sum(t.occurrence_count for t in tickets.values()) == 4 == occurrence_total(pg_url)


@pytest.fixture
def consumer_dying_before_ack(
    consume_conf: cfg.ConfigOpts,
) -> Iterator[tuple[Consumer, list[list[str]]]]:
    """A consumer whose broker connection is closed right after its first ticket
    commit, before the acknowledgement: the broker requeues that batch."""
    if shutil.which("rabbitmqctl") is None:
        servers.unavailable("rabbitmqctl", "not installed")
    conn = storage.get_connection_from_config(consume_conf)
    record_tickets = conn.record_tickets
    calls: list[list[str]] = []  # the records of each record_tickets call

    def commit_then_lose_the_broker(records: Any) -> Any:
        result = record_tickets(records)  # committed to PostgreSQL
        calls.append([json.dumps(r.data, sort_keys=True) for r in records])
        if len(calls) == 1:
            _close_own_broker_connection()
        return result

    conn.record_tickets = commit_then_lose_the_broker  # type: ignore[method-assign]
    declare_topology(consume_conf)
    consumer = build_consumer(consume_conf, conn)
    thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
    thread.start()
    try:
        yield consumer, calls
    finally:
        consumer.stop()
        thread.join(20)
        conn.close()
        assert not thread.is_alive(), "consumer thread did not stop"


def _close_own_broker_connection() -> None:
    name = f"pipeline-consume pid {os.getpid()}"
    listing = subprocess.run(
        ["rabbitmqctl", "list_connections", "pid", "client_properties", "-q"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    pids = [line.partition("\t")[0] for line in listing.stdout.splitlines()
            if f'{{"connection_name","{name}"}}' in line]
    assert len(pids) == 1, listing.stdout
    subprocess.run(["rabbitmqctl", "close_connection", pids[0], "test: died before ack"],
                   capture_output=True, timeout=30, check=True)


def test_a_batch_stored_but_not_acknowledged_is_redelivered_and_counted_once(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_dying_before_ack: tuple[Consumer, list[list[str]]],
) -> None:
    _consumer, calls = consumer_dying_before_ack
    publish(names, FIRST)
    wait_for(lambda: len(calls) >= 2 and sum(map(len, calls)) >= 6, 60,
             "the stored batch delivered again")
    first = set(calls[0])
    assert first <= {record for call in calls[1:] for record in call}, "not redelivered"
    wait_for(lambda: _drained(names), 30, "all acknowledged")
    tickets = tickets_by_location(pg_url)
    assert len(tickets) == 3
    assert [t.occurrence_count for t in tickets.values()] == [1, 1, 1]
    assert occurrence_total(pg_url) == 3


def _drained(names: Names) -> bool:
    """Nothing ready or unacknowledged in the consumer's two queues."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_queues", "name", "messages", "-q"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    depth = dict(line.split("\t") for line in listing.stdout.splitlines() if "\t" in line)
    return depth.get(names.logging) == "0" and depth.get(names.queue) == "0"
