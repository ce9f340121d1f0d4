"""Demo traffic: OpenStack notifications replayed from bundled samples.

``samples/notifications.json`` holds real-shaped notifications of nova,
glance, cinder, neutron, keystone and heat (made once with the seeded
generator ``benchmarks/corpus.py``, which is not installed with the
package), two of them error notifications that also become tickets. Each
message published gets a fresh message id and a timestamp spread over the
last hour, and travels as oslo.messaging sends it: the v2 envelope on the
service's topic exchange with routing key ``notifications.<priority>``.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.resources
import json
import random
import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import kombu
from oslo_config import cfg

from pipeline.consume import topology
from pipeline.consume.declaring import ensure_topology
from pipeline.exceptions import ConfigError

#: oslo.messaging's notification timestamp format.
_OSLO_TIME = "%Y-%m-%d %H:%M:%S.%f"
#: Exchange (service) of an event type, by the type's first word.
_EXCHANGE_OF = {
    "compute": "nova",
    "image": "glance",
    "volume": "cinder",
    "snapshot": "cinder",
    "network": "neutron",
    "subnet": "neutron",
    "port": "neutron",
    "router": "neutron",
    "floatingip": "neutron",
    "identity": "keystone",
    "orchestration": "heat",
}
#: One notification in this many is an error notification (a failure to file).
ERROR_EVERY = 40


@dataclass(frozen=True)
class Outgoing:
    """One message ready to publish."""

    exchange: str
    routing_key: str
    body: str
    event_type: str


def load_samples() -> list[dict[str, Any]]:
    """The bundled sample notifications."""
    text = importlib.resources.files("pipeline.demo") / "samples" / "notifications.json"
    samples: list[dict[str, Any]] = json.loads(text.read_text(encoding="utf-8"))
    return samples


def exchange_of(event_type: str) -> str:
    """The exchange a service publishes ``event_type`` on."""
    return _EXCHANGE_OF[event_type.split(".", 1)[0]]


def notifications(
    count: int, now: dt.datetime, exchanges: Collection[str], seed: int = 0
) -> Iterator[Outgoing]:
    """``count`` notifications, oldest first, the last one at ``now``.

    Only services whose exchange is in ``exchanges`` (the consumed ones)
    publish, so that every message sent is also received.
    """
    rng = random.Random(seed)
    samples = [s for s in load_samples() if exchange_of(s["event_type"]) in exchanges]
    if not samples:
        raise ConfigError(
            f"[notification] exchanges ({', '.join(exchanges)}) include none of the demo's "
            f"services ({', '.join(sorted(set(_EXCHANGE_OF.values())))})"
        )
    errors = [s for s in samples if s["priority"].lower() == "error"] or samples
    normal = [s for s in samples if s["priority"].lower() != "error"]
    step = dt.timedelta(hours=1) / max(count, 1)
    for index in range(count):
        pool = errors if index % ERROR_EVERY == ERROR_EVERY - 1 else normal
        notification = copy.deepcopy(rng.choice(pool))
        when = now - step * (count - 1 - index)
        # Fresh ids every run, so running the demo again adds to the database.
        notification["message_id"] = str(uuid.uuid4())
        notification["_unique_id"] = uuid.uuid4().hex
        notification["timestamp"] = when.strftime(_OSLO_TIME)
        envelope = {"oslo.version": "2.0", "oslo.message": json.dumps(notification)}
        priority = notification["priority"].lower()
        yield Outgoing(
            exchange_of(notification["event_type"]),
            f"notifications.{priority}",
            json.dumps(envelope),
            notification["event_type"],
        )


def declare(connection: kombu.Connection, conf: cfg.ConfigOpts) -> None:
    """Declare the consumer's queues, so nothing published before it starts is lost."""
    ensure_topology(connection, conf, topology.Feed(conf.transport_url, True, True))


def publish(connection: kombu.Connection, conf: cfg.ConfigOpts, items: Iterable[Outgoing]) -> int:
    """Publish ``items`` on ``connection``; return how many were published."""
    published = 0
    declare(connection, conf)
    with connection.channel() as channel:
        producer = kombu.Producer(channel)
        exchanges = {e.name: e for e in topology.notification_exchanges(conf)}
        for item in items:
            producer.publish(
                item.body,
                exchange=exchanges[item.exchange],
                routing_key=item.routing_key,
                content_type="application/json",
                content_encoding="utf-8",
            )
            published += 1
    return published
