"""The stdlib AMQP log handler against the real RabbitMQ."""

from __future__ import annotations

import contextlib
import logging
import uuid

import kombu

from pipeline.amqp_logging import MessageQueueHandler
from pipeline.convert.tickets import decode_log_record
from tests import servers


def test_records_reach_the_queue_on_rabbitmq() -> None:
    if not servers.port_open("127.0.0.1", 5672):
        servers.unavailable("RabbitMQ", "nothing listens on 127.0.0.1:5672")
    name = f"t-{uuid.uuid4().hex[:10]}-logging"
    handler = MessageQueueHandler(servers.AMQP_URL, queue=name)
    logger = logging.getLogger(f"amqp-functional-{name}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(3):
            logger.error("disk %d full", n)
    finally:
        logger.removeHandler(handler)
        handler.close()
    with kombu.Connection(servers.AMQP_URL) as conn:
        queue = conn.SimpleQueue(name)
        try:
            messages = [queue.get(timeout=5) for _ in range(3)]
            bodies = [decode_log_record(m.body) for m in messages]
            for message in messages:
                message.ack()
            assert [b["message"] for b in bodies] == [f"disk {n} full" for n in range(3)]
            assert {b["level"] for b in bodies} == {14}
        finally:
            queue.close()
            with contextlib.suppress(Exception):
                channel = conn.channel()
                channel.queue_delete(name)
                channel.exchange_delete(name)
