"""Publishing a message to the dead-letter exchange, with the reason in its headers.

RabbitMQ's own dead-lettering cannot add a header, so the consumer
publishes the message itself (persistent, with publisher confirms on AMQP)
and acknowledges it with the rest of its batch afterwards. The headers say
why (``x-pipeline-reason``, at most :data:`MAX_REASON` characters) and where
from (``x-original-exchange``, ``x-original-routing-key``,
``x-original-queue``); the body, content type, encoding, message id and
routing key are the original's.
"""

from __future__ import annotations

from typing import Any

import kombu

#: Longest header value we copy a reason into; tracebacks are not wanted there.
MAX_REASON = 1000


def publish(producer: kombu.Producer, message: Any, reason: str, queue: str) -> None:
    """Publish ``message`` (delivered from ``queue``) on ``producer``'s exchange."""
    info = message.delivery_info or {}
    headers = dict(message.headers or {})
    headers.update(
        {
            "x-pipeline-reason": reason[:MAX_REASON],
            "x-original-exchange": info.get("exchange") or "",
            "x-original-routing-key": info.get("routing_key") or "",
            "x-original-queue": queue,
        }
    )
    properties = message.properties or {}
    producer.publish(
        message.body,
        routing_key=info.get("routing_key") or "",
        headers=headers,
        content_type=message.content_type or "application/octet-stream",
        content_encoding=message.content_encoding or "binary",
        delivery_mode=2,
        message_id=properties.get("message_id"),
        retry=False,
    )
