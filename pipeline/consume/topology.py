"""The exchanges and queues the consumer declares, all durable.

* one topic exchange per service (``[notification] exchanges``), as
  oslo.messaging names them;
* one queue, ``[notification] queue_name``, bound to every exchange with the
  routing key ``<topic>.<priority>`` for every topic and priority; it carries
  ``x-dead-letter-exchange`` so that anything the broker itself rejects
  (expiry, a manual reject) still ends up in the dead-letter queue;
* the log record queue ``[ticketing] queue``, declared exactly as kombu's
  ``SimpleQueue`` (what logbook's ``MessageQueueHandler`` uses) declares it —
  a direct exchange and a queue of the same name, no arguments — so that
  either side may declare it first without a ``PRECONDITION_FAILED``;
* the dead-letter topic exchange ``[notification] dead_letter_exchange`` and
  its queue ``[notification] dead_letter_queue`` bound with ``#``.

Every consumer declares the same entities (declaring is idempotent), so any
number of processes and hosts can consume the same queues: RabbitMQ hands
each message to one of them (competing consumers).
"""

from __future__ import annotations

from kombu import Exchange, Queue, binding
from oslo_config import cfg


def notification_exchanges(conf: cfg.ConfigOpts) -> list[Exchange]:
    """The durable topic exchanges of the services whose notifications we read."""
    return [Exchange(name, type="topic", durable=True) for name in conf.notification.exchanges]


def routing_keys(conf: cfg.ConfigOpts) -> list[str]:
    """``<topic>.<priority>`` for every configured topic and priority."""
    return [
        f"{topic}.{priority}"
        for topic in conf.notification.topics
        for priority in conf.notification.priorities
    ]


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


def notification_queue(conf: cfg.ConfigOpts) -> Queue:
    """The shared notification queue with one binding per exchange and key."""
    bindings = [
        binding(exchange, routing_key=key)
        for exchange in notification_exchanges(conf)
        for key in routing_keys(conf)
    ]
    return Queue(
        conf.notification.queue_name,
        bindings=bindings,
        durable=True,
        queue_arguments={"x-dead-letter-exchange": conf.notification.dead_letter_exchange},
    )


def logging_queue(conf: cfg.ConfigOpts) -> Queue:
    """The log record queue, declared the way kombu's SimpleQueue declares it."""
    name = conf.ticketing.queue
    return Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)


def declare_dead_letter(channel: object, conf: cfg.ConfigOpts) -> None:
    """Declare the dead-letter exchange and queue on ``channel``.

    The consumed queues are declared by their kombu ``Consumer`` on every
    (re)connection; the dead-letter pair is not consumed, so it is declared
    here, before anything can be rejected into it.
    """
    dead_letter_queue(conf).bind(channel).declare()
