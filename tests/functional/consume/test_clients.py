"""Real publishers, the real RabbitMQ, PostgreSQL: what ends up stored.

oslo.messaging's Notifier (rabbit driver, messaging v2 envelopes) → events;
raw kombu publishes of bad bodies → the dead-letter queue with the reason,
the good messages around them stored; logbook's MessageQueueHandler and our
stdlib handler → tickets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import kombu
import pytest
from oslo_config import cfg

from pipeline import storage
from pipeline.consume.consumer import Consumer
from pipeline.storage import EventFilter
from tests.functional.consume import oslo_clients
from tests.functional.consume.conftest import (
    AMQP_URL,
    Names,
    declare_topology,
    publish_raw,
    queue_depth,
    unacknowledged,
    wait_for,
)


def v1_notification(message_id: str, **payload: object) -> bytes:
    return json.dumps({
        "message_id": message_id,
        "event_type": "compute.instance.create.end",
        "publisher_id": "compute.host-7",
        "priority": "INFO",
        "timestamp": "2026-11-25 10:00:00.000001",
        "payload": {"instance_id": f"inst-{message_id}", "tenant_id": "t1", **payload},
    }).encode()


def dead_letters(names: Names, count: int) -> list[kombu.Message]:
    with kombu.Connection(AMQP_URL) as conn:
        queue = kombu.Queue(names.dead).bind(conn.default_channel)
        found = []
        for _ in range(count):
            message = queue.get(no_ack=True)
            assert message is not None, f"only {len(found)} dead letters, expected {count}"
            found.append(message)
        assert queue.get(no_ack=True) is None, "more dead letters than expected"
        return found


def test_bad_bodies_are_dead_lettered_with_reasons_and_good_ones_around_them_stored(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    declare_topology(consume_conf)
    bodies = [v1_notification(f"good-{i}") for i in range(20)]
    bad = [
        b"\x00\xffnot even text",
        b'{"event_type": "compute.instance.create.end"}',
        b'["a", "list"]',
        b'{"oslo.version": "2.0", "oslo.message": "{broken"}',
    ]
    for position, body in zip((0, 5, 11, 19), bad, strict=True):
        bodies.insert(position, body)
    publish_raw(names, bodies)
    consumer = threaded_consumer()
    wait_for(lambda: consumer.stats.totals.messages == len(bodies), 30, "all messages handled")
    conn = storage.get_connection(pg_url)
    try:
        stored = {e.message_id for e in conn.get_events(EventFilter())}
    finally:
        conn.close()
    assert stored == {f"good-{i}" for i in range(20)}
    assert consumer.stats.totals.dead_lettered == 4
    letters = dead_letters(names, 4)
    # py-amqp hands out text when the message declares a content encoding.
    raw = [m.body if isinstance(m.body, bytes) else m.body.encode() for m in letters]
    assert sorted(raw) == sorted(bad)
    for message in letters:
        assert message.headers["x-pipeline-reason"].startswith("DecodeError: ")
        assert message.headers["x-original-exchange"] == names.exchanges[0]
        assert message.headers["x-original-routing-key"] == f"{names.topic}.info"
        assert message.headers["x-original-queue"] == names.queue
    assert queue_depth(names.queue) == 0
    # One multiple-ack covered the good and the dead-lettered messages alike.
    wait_for(lambda: unacknowledged(names.queue) == 0, 10, "every message acknowledged")


@pytest.fixture
def notifier(consume_conf: cfg.ConfigOpts, names: Names) -> Iterator[object]:
    """oslo.messaging's Notifier on the rabbit driver, v2 envelopes, oslo's defaults."""
    with oslo_clients.notifier({}, names.exchanges[1], names.topic) as found:
        yield found


def test_oslo_messaging_notifier_v2_notifications_become_events_with_traits(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str, notifier: object,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    consumer = threaded_consumer()
    for i in range(5):
        notifier.info(  # type: ignore[attr-defined]
            {"request_id": f"req-{i}"}, "compute.instance.create.end",
            {"instance_id": f"inst-{i}", "tenant_id": "proj-1", "user_id": "u-1",
             "display_name": f"vm{i}", "instance_type_id": 42, "host": "ignored"},
        )
    wait_for(lambda: consumer.stats.totals.events == 5, 30, "5 events stored")
    conn = storage.get_connection(pg_url)
    try:
        events = conn.get_events(EventFilter(event_type="compute.instance.create.end"))
    finally:
        conn.close()
    assert len(events) == 5
    by_instance = {e.trait("instance_id").value: e for e in events}  # type: ignore[union-attr]
    event = by_instance["inst-3"]
    traits = {t.name: t.value for t in event.traits}
    assert traits["tenant_id"] == "proj-1"
    assert traits["display_name"] == "vm3"
    assert traits["instance_type_id"] == "42"  # text, as Ceilometer defines it
    assert traits["service"] == "compute" and traits["host"] == "host-9"
    assert uuid.UUID(event.message_id)


def test_logbook_message_queue_handler_records_become_tickets(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str, threaded_consumer: Callable[[], Consumer],
) -> None:
    import logbook  # a test requirement, like oslo.messaging
    from logbook.queues import MessageQueueHandler

    consumer = threaded_consumer()
    handler = MessageQueueHandler(AMQP_URL, queue=names.logging)
    try:
        with handler.applicationbound():
            log = logbook.Logger("billing")
            for _ in range(3):
                log.error("payment failed")  # one location: one ticket, three occurrences
            try:
                raise KeyError("missing")
            except KeyError:
                log.exception("lookup failed")
    finally:
        handler.close()
    wait_for(lambda: consumer.stats.totals.tickets == 4, 30, "4 ticket occurrences stored")
    conn = storage.get_connection(pg_url)
    try:
        tickets = conn.get_tickets()  # type: ignore[attr-defined]
    finally:
        conn.close()
    assert sorted(t.occurrence_count for t in tickets) == [1, 3]
    assert {t.channel for t in tickets} == {"billing"}
    assert all(t.level == logbook.ERROR for t in tickets)
    assert queue_depth(names.logging) == 0


def test_error_notifications_also_become_tickets(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str, notifier: object,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    consumer = threaded_consumer()
    for host in ("compute.host-1", "compute.host-2"):
        notifier.prepare(publisher_id=host).error(  # type: ignore[attr-defined]
            {}, "compute.instance.create.error",
            {"instance_id": "i-1", "exception": "NoValidHost: no host"},
        )
    notifier.info({}, "compute.instance.create.end", {"instance_id": "i-2"})  # type: ignore[attr-defined]
    wait_for(lambda: consumer.stats.totals.events == 3, 30, "3 events stored")
    wait_for(lambda: consumer.stats.totals.tickets == 2, 10, "2 ticket occurrences stored")
    conn = storage.get_connection(pg_url)
    try:
        tickets = conn.get_tickets()  # type: ignore[attr-defined]
    finally:
        conn.close()
    assert len(tickets) == 1, "one failure on two hosts is one ticket"
    assert tickets[0].occurrence_count == 2


def test_stdlib_amqp_logging_handler_records_become_tickets_per_app(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    threaded_consumer: Callable[[], Consumer],
) -> None:
    import logging

    from pipeline.amqp_logging import MessageQueueHandler

    consumer = threaded_consumer()
    handler = MessageQueueHandler(AMQP_URL, queue=names.logging, app_id="billing-api")
    log = logging.getLogger(f"test.consume.{names.tag}")
    log.propagate = False
    log.addHandler(handler)
    try:
        for _ in range(2):
            log.error("card declined")  # same line: one ticket
        log.warning("slow gateway")
    finally:
        log.removeHandler(handler)
        handler.close()
    wait_for(lambda: consumer.stats.totals.tickets == 3, 30, "3 ticket occurrences stored")
    conn = storage.get_connection(pg_url)
    try:
        tickets = conn.get_tickets(app_id="billing-api")  # type: ignore[attr-defined]
    finally:
        conn.close()
    assert sorted(t.occurrence_count for t in tickets) == [1, 2]
    assert {t.channel for t in tickets} == {log.name}
