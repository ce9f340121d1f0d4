"""The identity of a delivered message: what makes a redelivered record count once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.consume.batch import Item, Source
from pipeline.consume.identity import DIGEST_PREFIX, bounded_key, occurrence_key
from tests.unit.consume import fakes


@dataclass
class Delivery:
    """A delivered message as kombu gives it: body, delivery info, properties."""

    body: Any
    delivery_info: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


def delivery(body: Any = b'{"level": 14}', tag: int = 1, **properties: Any) -> Delivery:
    info = {"exchange": "logging", "routing_key": "logging", "delivery_tag": tag,
            "consumer_tag": f"ctag-{tag}", "redelivered": tag > 1}
    return Delivery(body, info, properties)


def test_the_publishers_message_id_is_the_identity() -> None:
    assert occurrence_key(delivery(message_id="4f1c0de")) == "4f1c0de"
    assert occurrence_key(delivery(tag=2, message_id="4f1c0de")) == "4f1c0de"


def test_without_a_message_id_a_redelivery_has_the_same_digest() -> None:
    first, again = occurrence_key(delivery(tag=1)), occurrence_key(delivery(tag=7))
    assert first == again and first.startswith(DIGEST_PREFIX) and len(first) == 71
    # py-amqp hands a UTF-8 body over as text, the memory transport as bytes.
    assert occurrence_key(delivery('{"level": 14}')) == first
    assert occurrence_key(delivery(message_id="")) == first


def test_the_digest_covers_body_exchange_and_routing_key() -> None:
    base = delivery()
    keys = {occurrence_key(base), occurrence_key(delivery(b'{"level": 13}'))}
    for field_name in ("exchange", "routing_key"):
        other = delivery()
        other.delivery_info[field_name] = "elsewhere"
        keys.add(occurrence_key(other))
    moved = delivery()  # the same bytes split differently between the parts
    moved.delivery_info.update(exchange="logginglogging", routing_key="")
    keys.add(occurrence_key(moved))
    assert len(keys) == 5


def test_ids_storage_cannot_keep_are_digested() -> None:
    assert bounded_key("k" * 255) == "k" * 255
    assert bounded_key("k" * 256).startswith(DIGEST_PREFIX)
    assert bounded_key("k" * 256) != bounded_key("k" * 257)
    assert bounded_key("a\x00b").startswith(DIGEST_PREFIX)


def test_ticket_records_carry_their_messages_identity() -> None:
    translator = fakes.translator()
    log_items = [Item(delivery(fakes.log_record(), message_id="m-1"), Source.LOG_RECORD),
                 Item(delivery(fakes.log_record()), Source.LOG_RECORD)]
    error = Item(delivery(fakes.notification("n-1", priority="error"), message_id="amqp-id"),
                 Source.NOTIFICATION)
    plan = translator.plan([*log_items, error])
    keys = [ticket.occurrence_key for ticket in plan.tickets]
    assert keys[0] == "m-1" and keys[1] == occurrence_key(log_items[1].message)
    assert keys[2] == "n-1", "an error notification is identified by its own message_id"
