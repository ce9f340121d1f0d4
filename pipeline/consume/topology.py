"""What pipeline reads on the bus, and who owns each exchange and queue.

Notifications (read as Ceilometer's notification agent reads them):

* the topic exchanges ``[notification] exchanges``, one per service
  (``nova``, ``glance``, ...): **oslo.messaging's**. Its notifiers declare
  them;
* without ``[notification] pool``: the queues ``<topic>.<priority>`` for every
  ``[notification] topics`` entry and priority, each bound on every exchange
  with the routing key ``<topic>.<priority>``: **oslo.messaging's** too (its
  notifier declares ``<topic>.<priority>`` on every publish, so a backlog
  published before pipeline's first start is waiting there);
* with ``pool = NAME``: one queue ``NAME`` bound the same way, as
  oslo.messaging declares a listener pool's queue, so pipeline gets a copy of
  every notification while another reader keeps ``<topic>.<priority>``.

oslo.messaging's entities are never redeclared with pipeline's own ideas
(:mod:`pipeline.consume.declaring` uses what exists as it is); one that is
missing is declared exactly as oslo.messaging would with the same
``[oslo_messaging_rabbit]`` settings (:func:`oslo_flags`): topic exchange;
durable = ``amqp_durable_queues or rabbit_quorum_queue``; auto_delete =
``amqp_auto_delete``; queue arguments ``x-queue-type: quorum`` plus the
limits that are set, or ``x-ha-policy: all``, and nothing else.

pipeline's own entities:

* the log record queue ``[ticketing] queue``, declared exactly as kombu's
  ``SimpleQueue`` (what logbook's ``MessageQueueHandler`` uses) declares it —
  a durable direct exchange and queue of the same name, no arguments — so
  that either side may declare it first;
* the dead-letter topic exchange ``[notification] dead_letter_exchange`` and
  its queue ``[notification] dead_letter_queue`` bound with ``#``.

Declaring is idempotent, so any number of processes and hosts consume the
same queues: RabbitMQ hands each message to one of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from kombu import Exchange, Queue, binding
from oslo_config import cfg

from pipeline.exceptions import ConfigError


class Owner(enum.Enum):
    """Who declares an entity, hence how a missing one is declared."""

    OSLO = "oslo.messaging"
    PIPELINE = "pipeline"


@dataclass(frozen=True)
class OsloFlags:
    """How oslo.messaging declares exchanges and queues with given settings."""

    durable: bool
    auto_delete: bool
    arguments: dict[str, Any]

    def describe(self) -> str:
        """``durable=…, auto_delete=…, arguments=…`` for logs and reports."""
        return describe_flags(self.durable, self.auto_delete, self.arguments)


def describe_flags(durable: bool, auto_delete: bool, arguments: dict[str, Any] | None) -> str:
    """One text form of an entity's flags, shared by logs and ``config check``."""
    args = ", ".join(f"{key}={value}" for key, value in sorted((arguments or {}).items()))
    return f"durable={durable}, auto_delete={auto_delete}, arguments={{{args}}}"


def oslo_flags(conf: cfg.ConfigOpts) -> OsloFlags:
    """oslo.messaging's declaration flags for ``[oslo_messaging_rabbit]``.

    Raises :class:`ConfigError` for quorum and HA queues together, which
    oslo.messaging refuses as well.
    """
    rabbit = conf.oslo_messaging_rabbit
    if rabbit.rabbit_quorum_queue and rabbit.rabbit_ha_queues:
        raise ConfigError(
            "[oslo_messaging_rabbit] rabbit_quorum_queue and rabbit_ha_queues are both "
            "enabled: a queue is quorum or HA (mirrored), not both"
        )
    arguments: dict[str, Any] = {}
    if rabbit.rabbit_ha_queues:
        arguments["x-ha-policy"] = "all"
    if rabbit.rabbit_quorum_queue:
        arguments["x-queue-type"] = "quorum"
        for option, argument in (
            ("rabbit_quorum_delivery_limit", "x-delivery-limit"),
            ("rabbit_quorum_max_memory_length", "x-max-in-memory-length"),
            ("rabbit_quorum_max_memory_bytes", "x-max-in-memory-bytes"),
        ):
            if rabbit[option]:
                arguments[argument] = rabbit[option]
    return OsloFlags(
        durable=bool(rabbit.amqp_durable_queues or rabbit.rabbit_quorum_queue),
        auto_delete=bool(rabbit.amqp_auto_delete),
        arguments=arguments,
    )


def notification_exchanges(conf: cfg.ConfigOpts) -> list[Exchange]:
    """The services' topic exchanges, with the flags oslo.messaging gives them."""
    flags = oslo_flags(conf)
    return [
        Exchange(name, type="topic", durable=flags.durable, auto_delete=flags.auto_delete)
        for name in conf.notification.exchanges
    ]


def routing_keys(conf: cfg.ConfigOpts) -> list[str]:
    """``<topic>.<priority>`` for every configured topic and priority."""
    return [
        f"{topic}.{priority}"
        for topic in conf.notification.topics
        for priority in conf.notification.priorities
    ]


def notification_queues(conf: cfg.ConfigOpts) -> list[Queue]:
    """The queues notifications are read from, with their bindings.

    Without a pool: ``<topic>.<priority>`` each, bound with its own name as
    routing key on every exchange. With a pool: the one pool queue, bound with
    every routing key on every exchange. Either way declared (when missing)
    as oslo.messaging would.
    """
    flags = oslo_flags(conf)
    exchanges = notification_exchanges(conf)
    keys = routing_keys(conf)
    pool = conf.notification.pool
    groups = [(pool, keys)] if pool else [(key, [key]) for key in keys]
    return [
        Queue(
            name,
            bindings=[
                binding(exchange, routing_key=key) for exchange in exchanges for key in bound
            ],
            durable=flags.durable,
            auto_delete=flags.auto_delete,
            queue_arguments=dict(flags.arguments),
        )
        for name, bound in groups
    ]


def stranded_candidates(conf: cfg.ConfigOpts) -> list[str]:
    """In pool mode, the oslo queues that nobody may read any more."""
    return routing_keys(conf) if conf.notification.pool else []


def logging_queue(conf: cfg.ConfigOpts) -> Queue:
    """The log record queue, declared the way kombu's SimpleQueue declares it."""
    name = conf.ticketing.queue
    return Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)


def dead_letter_exchange(conf: cfg.ConfigOpts) -> Exchange:
    """The exchange rejected messages are published to, with their reason."""
    return Exchange(conf.notification.dead_letter_exchange, type="topic", durable=True)


def dead_letter_queue(conf: cfg.ConfigOpts) -> Queue:
    """The durable queue that keeps every dead-lettered message."""
    return Queue(
        conf.notification.dead_letter_queue,
        dead_letter_exchange(conf),
        routing_key="#",
        durable=True,
    )


@dataclass(frozen=True)
class Feed:
    """What one broker connection reads: notifications, log records or both."""

    url: str
    notifications: bool
    log_records: bool


def feeds(conf: cfg.ConfigOpts) -> list[Feed]:
    """One feed per broker URL.

    Notifications come from every ``[notification] messaging_urls`` entry
    (default: ``[DEFAULT] transport_url``); log records from
    ``[DEFAULT] transport_url``, sharing its connection when it is also a
    notification URL.
    """
    urls = list(dict.fromkeys(conf.notification.messaging_urls or [conf.transport_url]))
    result = [Feed(url, True, url == conf.transport_url) for url in urls]
    if conf.transport_url not in urls:
        result.append(Feed(conf.transport_url, False, True))
    return result
