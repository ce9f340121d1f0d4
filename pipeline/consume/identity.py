"""The identity of a delivered message, which makes storing it again a no-op.

RabbitMQ delivers at least once: a consumer that stored a batch and died
before acknowledging it gets it again. Events are idempotent by their
``message_id``; a ticket occurrence is by the key :func:`occurrence_key`
gives its message (see :attr:`pipeline.models.TicketRecord.occurrence_key`
and the rule in :mod:`pipeline.storage.tickets`).
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol


class Delivered(Protocol):
    """What is needed of a delivered message (a kombu Message)."""

    body: Any
    delivery_info: dict[str, Any]
    properties: dict[str, Any]


#: Longest identity stored as it is (:data:`pipeline.storage.ticket_batch.KEY_MAX`).
_KEY_MAX = 255
#: Marks an identity that is a digest, not a message id.
DIGEST_PREFIX = "sha256:"


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:  # length-prefixed: no two part lists hash alike
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return DIGEST_PREFIX + digest.hexdigest()


def bounded_key(identity: str) -> str:
    """``identity`` as an occurrence key: itself, or its digest when longer than
    255 characters or holding a NUL (what storage cannot keep)."""
    if len(identity) <= _KEY_MAX and "\x00" not in identity:
        return identity
    return _digest(identity.encode("utf-8", "surrogatepass"))


def occurrence_key(message: Delivered) -> str:
    """The identity of the occurrence a delivered log record becomes.

    The AMQP ``message_id`` property when the publisher set one
    (:class:`pipeline.amqp_logging.MessageQueueHandler` sets a fresh UUID per
    record). Otherwise ``sha256:`` and the SHA-256 of the delivery's
    exchange, its routing key and the raw message body, each
    length-prefixed: what a redelivery repeats exactly, unlike the delivery
    tag or consumer tag.

    The trade-off of the digest: two genuinely distinct records with
    byte-identical bodies, published to the same exchange and routing key,
    count as one occurrence. That is practically impossible, because
    logbook's records (and ours) carry the record's time to the microsecond
    with the process and thread: it takes the same message from the same
    thread twice within one tick of the publisher's clock. Publishers that
    set ``message_id`` avoid it entirely; without an identity, every
    redelivery would count twice. A publisher's ``message_id`` is trusted
    to be unique per message, as AMQP means it: one that reused an id would
    have its later records taken for redeliveries.
    """
    message_id = message.properties.get("message_id")
    if isinstance(message_id, str) and message_id:
        return bounded_key(message_id)
    info = message.delivery_info or {}
    body = message.body
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    exchange = str(info.get("exchange") or "").encode("utf-8", "surrogatepass")
    routing_key = str(info.get("routing_key") or "").encode("utf-8", "surrogatepass")
    return _digest(exchange, routing_key, raw)
