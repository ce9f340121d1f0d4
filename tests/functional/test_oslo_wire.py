"""The convert tests' wire bodies are what oslo.messaging's rabbit driver really sends.

tests/unit/convert/oslo_wire.py builds notification bodies without a broker,
with the rabbit driver's own packing functions. Here the real Notifier on
the real rabbit driver publishes the same notification to this machine's
RabbitMQ (an exchange and topic of this test's own), and the body read back
from the queue the notifier declared must equal the offline one, apart from
what is new in every message (message id, timestamp, unique id). Both then
convert to the same event.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import kombu
import oslo_messaging
import pytest
from oslo_config import cfg

from pipeline.convert import EventConverter, decode_notification
from tests import servers
from tests.unit.convert import oslo_wire

FRESH = ("message_id", "timestamp", "_unique_id")


@pytest.fixture
def topic() -> Iterator[tuple[str, str]]:
    """``(exchange, topic)`` names of this test's own; deleted afterwards."""
    if not servers.port_open("127.0.0.1", 5672):
        servers.unavailable("RabbitMQ", "nothing listens on 127.0.0.1:5672")
    tag = uuid.uuid4().hex[:10]
    exchange, name = f"t-{tag}-nova", f"t-{tag}-notifications"
    yield exchange, name
    with contextlib.suppress(Exception), kombu.Connection(servers.AMQP_URL) as conn:
        conn.default_channel.queue_delete(f"{name}.info")
        conn.default_channel.exchange_delete(exchange)


def _published(exchange: str, topic: str, driver: str, context: Any, payload: Any) -> bytes:
    """Publish with the real rabbit Notifier and read the body back from ``<topic>.info``."""
    conf = cfg.ConfigOpts()
    conf([], project="oslo-wire-test")
    url = servers.AMQP_URL.replace("amqp://", "rabbit://", 1)
    # The first transport registers oslo.messaging's options on conf; the
    # driver reads them when created, so the one used comes second.
    oslo_messaging.get_notification_transport(conf, url=url).cleanup()
    conf.set_override("control_exchange", exchange)
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    try:
        notifier = oslo_messaging.Notifier(
            transport, publisher_id="network.node-01", driver=driver, topics=[topic])
        notifier.info(context, "port.create.end", payload)
    finally:
        transport.cleanup()
    with kombu.Connection(servers.AMQP_URL, connect_timeout=5) as conn:
        message = conn.default_channel.basic_get(f"{topic}.info", no_ack=True)
    assert message is not None, "the notifier's queue holds the notification"
    body = message.body
    return body if isinstance(body, bytes) else body.encode()


def _without_fresh_values(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    message = json.loads(data["oslo.message"]) if "oslo.message" in data else data
    for key in FRESH:
        assert message.pop(key)
    if "oslo.message" in data:
        return {**data, "oslo.message": message}
    return message


@pytest.mark.parametrize(("driver", "version"), [("messagingv2", 2.0), ("messaging", 1.0)])
def test_offline_bodies_equal_what_the_rabbit_driver_publishes(
    topic: tuple[str, str], driver: str, version: float
) -> None:
    exchange, name = topic
    payload = {"port": {"id": "p-1", "tenant_id": "owner", "name": "", "fixed_ips": []}}

    def context() -> Any:
        return oslo_wire.ServiceContext(
            user_id="u-1", project_id="p-ctx", request_id="req-1", auth_token="secret",
            service_keys={"tenant_id": "p-ctx", "user_id": "u-1"})

    real = _published(exchange, name, driver, context(), payload)
    offline = oslo_wire.wire_body("port.create.end", payload, context(), "network.node-01",
                                  version=version)
    assert _without_fresh_values(real) == _without_fresh_values(offline)
    assert b"secret" not in real  # the Notifier redacts the token; so does the offline body
    converter = EventConverter.from_file()
    ours, theirs = (converter.to_event(decode_notification(b)) for b in (real, offline))
    assert ours is not None and theirs is not None
    assert ours.traits == theirs.traits
    assert ours.trait("project_id").value == "p-ctx"  # type: ignore[union-attr]
