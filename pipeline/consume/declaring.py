"""Using the broker's exchanges and queues as they are; declaring only what is missing.

For every entity the consumer needs, :class:`Declarer`:

1. declares it **passively** (the broker answers whether it exists, and for a
   queue how many messages and consumers it has; nothing is created);
2. if it exists, checks its flags by declaring it with the flags its owner
   would use. In AMQP a declaration never changes an existing entity: equal
   flags are a no-op, other flags are refused (``PRECONDITION_FAILED``, in
   the broker's words what it has and what was asked) and the entity stays
   as it is. A refusal is reported, never fatal: the entity is used as found;
3. if it is missing, declares it as its owner would (see
   :mod:`pipeline.consume.topology`). Should someone else declare it in
   between with other flags, the refusal is reported as in 2.

A refused or failed passive declaration closes the AMQP channel, so each
failure is followed by a fresh channel. ``declare=False`` only surveys:
nothing is created (``pipeline config check``).
"""

from __future__ import annotations

import contextlib
import enum
import logging
from dataclasses import dataclass
from typing import Any, Self

import kombu
from kombu import Exchange, Queue

from pipeline.consume import topology
from pipeline.consume.topology import describe_flags

LOG = logging.getLogger(__name__)


class Status(enum.Enum):
    """What became of one entity."""

    FOUND = "exists with the expected flags; used as found"
    DIFFERS = "exists with other flags; used as found"
    DECLARED = "was missing; declared"
    MISSING = "missing; would be declared"


@dataclass(frozen=True)
class Finding:
    """The state of one exchange or queue on the broker."""

    kind: str  # "exchange" or "queue"
    name: str
    status: Status
    flags: str  # the flags its owner declares it with
    detail: str = ""  # the broker's words when the flags differ
    messages: int | None = None
    consumers: int | None = None

    def describe(self, *, kind: bool = True) -> str:
        """A one-line account for logs and ``config check`` (``kind``: say what it is)."""
        text = f"{self.kind + ' ' if kind else ''}{self.name!r}: {self.status.value}"
        if self.status in (Status.DECLARED, Status.MISSING):
            text += f" with {self.flags}"
        elif self.status is Status.DIFFERS:
            text += f"; configuration says {self.flags}; broker: {self.detail}"
        if self.messages is not None:
            text += f"; {self.messages} messages, {self.consumers} consumers"
        return text


def _code(err: BaseException) -> str:
    """The AMQP reply code of a channel error, as text ('404', '406', ...)."""
    return str(getattr(err, "reply_code", None) or getattr(err, "code", ""))


class Declarer:
    """Check and (optionally) declare entities on one kombu connection."""

    def __init__(self, connection: kombu.Connection, *, declare: bool = True) -> None:
        self.connection = connection
        self.declare = declare
        self._errors = tuple(connection.channel_errors)
        self._channel: Any = None

    def close(self) -> None:
        """Close the working channel."""
        self._drop_channel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- entities ---------------------------------------------------------

    def exchange(self, exchange: Exchange) -> Finding:
        """Ensure ``exchange`` exists; never change one that does."""
        arguments = getattr(exchange, "arguments", None) or None
        flags = describe_flags(exchange.durable, exchange.auto_delete, arguments)

        def declare(passive: bool) -> Any:
            return self._use().exchange_declare(
                exchange=exchange.name,
                type=exchange.type,
                durable=exchange.durable,
                auto_delete=exchange.auto_delete,
                arguments=arguments,
                passive=passive,
            )

        status, detail, _ = self._ensure(declare)
        return Finding("exchange", exchange.name, status, flags, detail)

    def queue(self, queue: Queue) -> Finding:
        """Ensure ``queue`` exists (its bindings are :meth:`bind`'s)."""
        arguments = getattr(queue, "queue_arguments", None) or None
        flags = describe_flags(queue.durable, queue.auto_delete, arguments)

        def declare(passive: bool) -> Any:
            return self._use().queue_declare(
                queue=queue.name,
                durable=queue.durable,
                exclusive=False,
                auto_delete=queue.auto_delete,
                arguments=arguments,
                passive=passive,
            )

        status, detail, ok = self._ensure(declare)
        messages = consumers = None
        if ok is not None:
            messages, consumers = int(ok.message_count), int(ok.consumer_count)
        return Finding("queue", queue.name, status, flags, detail, messages, consumers)

    def peek(self, name: str) -> Finding | None:
        """Passively look at queue ``name``; None when it does not exist."""
        try:
            ok = self._use().queue_declare(queue=name, passive=True)
        except self._errors as err:
            self._drop_channel()
            if _code(err) == "404":
                return None
            raise
        return Finding(
            "queue", name, Status.FOUND, "", "", int(ok.message_count), int(ok.consumer_count)
        )

    def bind(self, queue: Queue) -> None:
        """Bind ``queue`` on each of its bindings (idempotent, flags untouched)."""
        if not self.declare:
            return
        channel = self._use()
        for item in queue.bindings or ():
            channel.queue_bind(
                queue=queue.name, exchange=item.exchange.name, routing_key=item.routing_key
            )
        if queue.exchange is not None and queue.exchange.name:
            channel.queue_bind(
                queue=queue.name, exchange=queue.exchange.name, routing_key=queue.routing_key
            )

    # -- mechanics --------------------------------------------------------

    def _ensure(self, declare: Any) -> tuple[Status, str, Any]:
        """Passive check, then flag check or declaration; see the module doc."""
        ok = None
        try:
            ok = declare(passive=True)
        except self._errors as err:
            self._drop_channel()
            if _code(err) != "404":
                raise
            if not self.declare:
                return Status.MISSING, "", None
            status = Status.DECLARED
        else:
            status = Status.FOUND
        try:
            ok = declare(passive=False) or ok
        except self._errors as err:
            self._drop_channel()
            return Status.DIFFERS, str(err), self._passive_again(declare)
        return status, "", ok

    def _passive_again(self, declare: Any) -> Any:
        # The refused declaration closed the channel; a queue's counts still
        # matter (backlog, other consumers), so ask once more, passively.
        try:
            return declare(passive=True)
        except self._errors:
            self._drop_channel()
            return None

    def _use(self) -> Any:
        if self._channel is None:
            self._channel = self.connection.channel()
        return self._channel

    def _drop_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                channel.close()


@dataclass
class Survey:
    """Everything one connection found and declared, and what deserves a warning."""

    findings: list[Finding]
    warnings: list[str]


def ensure_topology(
    connection: kombu.Connection,
    conf: Any,
    feed: topology.Feed,
    *,
    declare: bool = True,
) -> Survey:
    """Check (and, with ``declare``, complete) what ``feed`` reads on ``connection``.

    Order matters: exchanges before the queues bound on them. Warnings name
    the two silent failures of sharing a bus with Ceilometer: a
    ``<topic>.<priority>`` queue someone else already reads (each message
    goes to one reader only) and, in pool mode, a ``<topic>.<priority>``
    queue that nobody reads and that holds messages (it only grows).
    """
    findings: list[Finding] = []
    warnings: list[str] = []
    with Declarer(connection, declare=declare) as declarer:
        if feed.notifications:
            queues = topology.notification_queues(conf)
            for exchange in topology.notification_exchanges(conf):
                findings.append(declarer.exchange(exchange))
            for queue in queues:
                finding = declarer.queue(queue)
                findings.append(finding)
                declarer.bind(queue)
                if not conf.notification.pool and finding.consumers:
                    warnings.append(_shared_warning(finding))
            for name in topology.stranded_candidates(conf):
                peeked = declarer.peek(name)
                if peeked is not None and not peeked.consumers and peeked.messages:
                    warnings.append(_stranded_warning(peeked, conf.notification.pool))
        if feed.log_records:
            queue = topology.logging_queue(conf)
            findings.append(declarer.exchange(queue.exchange))
            findings.append(declarer.queue(queue))
            declarer.bind(queue)
        dead = topology.dead_letter_queue(conf)
        findings.append(declarer.exchange(dead.exchange))
        findings.append(declarer.queue(dead))
        declarer.bind(dead)
    return Survey(findings, warnings)


def _shared_warning(finding: Finding) -> str:
    return (
        f"queue {finding.name!r} already has {finding.consumers} consumer(s): if one of "
        "them is another program (Ceilometer), the broker gives each notification "
        "to only one of you. Set [notification] pool, or have the services publish "
        "to a topic of pipeline's own (topics = notifications,pipeline) and read that "
        "topic here. Other pipeline consumers on this queue count too and are fine."
    )


def _stranded_warning(finding: Finding, pool: str) -> str:
    return (
        f"queue {finding.name!r} holds {finding.messages} messages and nobody reads "
        f"it: pipeline reads pool {pool!r}, so this queue only grows until the broker's "
        "memory alarm stops every publisher. Keep a reader on it (Ceilometer), or "
        "delete it and stop publishing to this topic."
    )
