"""The consumer loop: one connection, prefetch, batches by size or time, one ack.

:class:`Consumer` is a kombu :class:`~kombu.mixins.ConsumerMixin`, which
gives it reconnection with back-off: when the broker connection drops, the
batch in hand is forgotten *without* acknowledgement (the broker redelivers
it; stored events are de-duplicated by message id) and consuming resumes on
a new connection.

On every (re)connection the consumer checks the exchanges and queues of
its :class:`~pipeline.consume.topology.Feed` and declares only what is
missing (:mod:`pipeline.consume.declaring`), then consumes every queue on one
channel, each with a prefetch of ``[notification] prefetch_count`` (0 = twice
``batch_size``). Deliveries are
buffered in arrival order; a batch is the oldest ``batch_size`` of them, cut
when that many have arrived or ``batch_timeout`` after the oldest arrived.
Each message is decoded and converted on arrival; a full batch is written
on a storage thread (:class:`~pipeline.consume.writer.BackgroundWriter`)
while this thread receives and converts the next one and keeps serving the
connection (heartbeats), also during storage back-off. Acknowledging and
dead-lettering happen here, on the connection's own thread, because py-amqp
channels are not thread-safe.

**Acknowledgement policy.** A batch is always acknowledged *as a whole* with
a single ``basic.ack`` carrying ``multiple=True`` and the batch's highest
delivery tag, and only after its storage writes have committed. This is
safe because the buffer is the exact sequence of deliveries on the channel
and batches are cut from its front, so every unacknowledged tag up to that
one belongs to the batch; later (prefetched) deliveries have higher tags.
Messages that cannot be decoded or converted are therefore never rejected
individually: they are first *published* to the dead-letter exchange with
their reason in the headers (RabbitMQ's own dead-lettering cannot add a
header), with publisher confirms, and then acknowledged with the rest. A
crash between the two publishes the dead letter again on redelivery, never
loses it. If a batch cannot be stored before a stop, nothing more is
acknowledged on that channel. kombu's in-memory transport ignores
``multiple``, so there each message is acknowledged on its own.

**Counting.** Everything is counted in :class:`~pipeline.consume.stats.Stats`
per batch (when it is handed to storage, acknowledged or forgotten), per
dead letter and per connection change; the per-message path only buffers.
With metrics on, the consumer also looks at the depth of the queues it
reads every ``[metrics] backlog_interval`` seconds, with a passive declare
on a channel of its own connection (never a second consumer).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import kombu
from kombu.mixins import ConsumerMixin
from kombu.transport import virtual
from oslo_config import cfg

from pipeline.consume import dead_letters, reasons, topology
from pipeline.consume.accounting import Accounting
from pipeline.consume.backlog import Backlog
from pipeline.consume.batch import EventSource, Item, Pending, Source, Translator
from pipeline.consume.declaring import Finding, Status, ensure_topology
from pipeline.consume.stats import Stats, log_report
from pipeline.consume.writer import BackgroundWriter, BatchWriter, Done

LOG = logging.getLogger(__name__)
#: Seconds the loop waits for a delivery before checking batches and timers.
#: While a batch is being stored the prefetch window is usually full, so
#: nothing arrives and the storage thread sits idle until this thread notices
#: the batch is stored, acknowledges it and hands over the next: at 50 ms that
#: gap cost about a tenth of the throughput. An idle consumer wakes 200 times
#: a second for it: measured 0.8% of a core instead of 0.55% at 50 ms.
POLL_INTERVAL = 0.005
#: Seconds between two checks of the periodic chores (statistics report,
#: queue depths): checking a clock is cheap, doing more per frame is not.
CHORE_INTERVAL = 0.25


class Stopped(Exception):
    """Raised out of reconnection attempts once a stop was requested."""


class Consumer(ConsumerMixin):  # type: ignore[misc]
    """Consume notifications (and log records) into storage in batches."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        connection: kombu.Connection,
        translator: Translator,
        writer: BatchWriter,
        stats: Stats,
        *,
        tickets: bool = True,
        notifications: bool = True,
        load_converter: Callable[[], EventSource] | None = None,
        stats_stream: TextIO | None = None,
        backlog_interval: float = 5.0,
    ) -> None:
        self.conf = conf
        self.connection = connection
        self.translator = translator
        self.writer = writer
        self.stats = stats
        self.tickets = tickets
        self.notifications = notifications
        # What this consumer reads on its connection; what the broker has is
        # checked and completed on every (re)connection.
        self.feed = topology.Feed(connection.as_uri(), notifications, tickets)
        self._reported: set[tuple[str, str, Status]] = set()
        self.load_converter = load_converter
        self.stats_stream = stats_stream
        opts = conf.notification
        self.batch_size: int = opts.batch_size
        self.batch_timeout: float = opts.batch_timeout
        self.prefetch: int = opts.prefetch_count or 2 * opts.batch_size
        # Read once: looking an option up costs more than the check it guards.
        self.stats_interval: float = opts.stats_interval
        self._batches: deque[Pending] = deque()
        self._conn: Any = None
        self._broker: Any = None
        self._channel: Any = None
        self._producer: kombu.Producer | None = None
        self._abandoned = False
        self._reload_requested = False
        self._connections = 0
        self._generation = 0
        self._background = BackgroundWriter(writer)
        # Metrics (None: off): gauges are set here, counts go through stats.
        self.metrics = stats.metrics
        self.backlog = None if self.metrics is None else Backlog(self.metrics, backlog_interval)
        self._next_chore = 0.0
        self.accounting = Accounting(conf, detailed=self.metrics is not None)

    # -- control (signal handlers call these) -------------------------------

    def stop(self) -> None:
        """Stop taking messages; the batch in hand is stored and acknowledged."""
        self.should_stop = True

    def request_reload(self) -> None:
        """Reload the event definitions between two messages."""
        self._reload_requested = True

    def run_until_stopped(self) -> None:
        """Consume until :meth:`stop`; reconnects on broker errors."""
        try:
            self.run(safety_interval=min(POLL_INTERVAL, self.batch_timeout / 2))
        except Stopped:
            LOG.info("stopped while the broker was unreachable")
        finally:
            self._background.close()
            if self._batches:
                LOG.warning("%d messages left unacknowledged for redelivery", self._pending())

    # -- ConsumerMixin hooks ----------------------------------------------

    def create_connection(self) -> kombu.Connection:
        # Kept so get_consumers can open channels of its own for declaring.
        self._broker = super().create_connection()
        return self._broker

    def get_consumers(self, consumer_class: Any, channel: Any) -> list[kombu.Consumer]:
        survey = ensure_topology(self._broker, self.conf, self.feed)
        for finding in survey.findings:
            self._report(finding)
        self._channel = channel
        self._producer = kombu.Producer(
            channel, exchange=topology.dead_letter_exchange(self.conf), auto_declare=False
        )
        consumers = []
        if self.notifications:
            consumers.append(
                consumer_class(
                    queues=topology.notification_queues(self.conf),
                    on_message=self._on_notification,
                    prefetch_count=self.prefetch,
                    auto_declare=False,
                )
            )
        if self.tickets:
            consumers.append(
                consumer_class(
                    queues=[topology.logging_queue(self.conf)],
                    on_message=self._on_log_record,
                    prefetch_count=self.prefetch,
                    auto_declare=False,
                )
            )
        return consumers

    def _report(self, finding: Finding) -> None:
        """Log what was declared, and each entity used despite other flags once."""
        if finding.status is Status.DECLARED:
            LOG.info("%s", finding.describe())
        elif finding.status is Status.DIFFERS:
            key = (finding.kind, finding.name, finding.status)
            if key not in self._reported:
                self._reported.add(key)
                LOG.warning("%s", finding.describe())

    def on_connection_revived(self) -> None:
        self._connections += 1
        if self._connections > 1:
            self.stats.reconnected()
            LOG.warning(
                "broker connection re-established; %d unacknowledged messages of the "
                "old connection will be redelivered",
                self._pending(),
            )
        # Results of batches received on the old connection are discarded.
        self._generation = self._connections
        self._forget_pending()
        self._abandoned = False

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        if self.should_stop:
            raise Stopped() from exc
        LOG.warning("broker connection error: %s; retrying in %.1fs", exc, interval)

    @contextlib.contextmanager
    def extra_context(self, connection: Any, channel: Any) -> Iterator[None]:
        # Around consuming on one connection: "connected" means consuming.
        if self.metrics is not None:
            self.metrics.connected.set(1)
        try:
            yield
        finally:
            if self.metrics is not None:
                self.metrics.connected.set(0)
            if self.backlog is not None:
                self.backlog.close()

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kw: Any) -> None:
        self._conn = connection
        names = [queue.name for consumer in consumers for queue in consumer.queues]
        if self.metrics is not None and self.backlog is not None:
            self.metrics.prepare(names)
            self.backlog.start(self._broker, [*names, self.conf.notification.dead_letter_queue])
        LOG.info(
            "consuming %s on %s with prefetch %d per queue, batches of %d or %.2fs",
            ", ".join(names),
            connection.as_uri(),
            self.prefetch,
            self.batch_size,
            self.batch_timeout,
        )

    def on_iteration(self) -> None:
        # Runs after every AMQP frame (three per message): keep it cheap.
        background = self._background
        if background.busy:
            for done in background.finished():
                self._finish(done)
        if self._batches and not background.busy:
            first = self._batches[0]
            if (
                len(first.items) >= self.batch_size
                or time.monotonic() - first.since >= self.batch_timeout
            ):
                self._submit()
        if self._reload_requested:
            self._reload()
        if time.monotonic() >= self._next_chore:
            self._chores()

    def _chores(self) -> None:
        """The periodic report and queue depths, checked every CHORE_INTERVAL."""
        now = time.monotonic()
        self._next_chore = now + CHORE_INTERVAL
        if self.stats_interval > 0 and self.stats.due(self.stats_interval):
            log_report(self.stats.report(), self.stats_stream)
        if self.backlog is not None:
            self.backlog.due(now)

    def on_consume_end(self, connection: Any, channel: Any) -> None:
        # Consumers are cancelled: finish what is in hand, then let go.
        for done in self._background.finished(wait=True):
            self._finish(done)
        while self._batches and not self._abandoned:
            self._submit()
            for done in self._background.finished(wait=True):
                self._finish(done)

    # -- deliveries -------------------------------------------------------

    def _on_notification(self, message: Any) -> None:
        self._received(Item(message, Source.NOTIFICATION))

    def _on_log_record(self, message: Any) -> None:
        self._received(Item(message, Source.LOG_RECORD))

    def _received(self, item: Item) -> None:
        # Decoded and converted on arrival, so that this thread prepares the
        # next batch while the storage thread writes the previous one.
        if not self._batches or len(self._batches[-1].items) >= self.batch_size:
            self._batches.append(Pending(time.monotonic()))
        pending = self._batches[-1]
        pending.items.append(item)
        self.translator.add(pending.plan, item)

    def _pending(self) -> int:
        return sum(len(pending.items) for pending in self._batches)

    def _submit(self) -> None:
        """Hand the oldest batch to the storage thread."""
        pending = self._batches.popleft()
        queues = self.accounting.tally(pending.items)
        if self.metrics is not None:
            self.stats.received(queues, len(pending.items))
        self._background.submit(
            self._generation, pending.items, pending.plan, lambda: self.should_stop, queues
        )
        self._gauge_unacked()

    def _forget_pending(self) -> None:
        """Drop the batches not yet handed to storage (the broker redelivers them)."""
        if self.metrics is not None:
            for pending in self._batches:
                self.stats.received(self.accounting.tally(pending.items), None)
        self._batches.clear()
        self._gauge_unacked()

    def _gauge_unacked(self) -> None:
        if self.metrics is not None:
            self.metrics.unacked.set(self._pending() + self._background.in_flight)

    def _finish(self, done: Done) -> None:
        """Dead-letter and acknowledge a stored batch (consumer thread only)."""
        stale = done.generation != self._generation
        if (stale or self._abandoned) and done.written is not None:
            # Stored, never acknowledged: its redelivery creates no ticket again.
            self.stats.tickets_changed(done.written.tickets_created, done.written.tickets_regressed)
        if stale:
            LOG.info(
                "batch of %d messages from a previous broker connection stored; "
                "its redelivery will be de-duplicated",
                len(done.batch),
            )
            return
        if self._abandoned:
            return
        written = done.written
        if written is None:
            # Not stored: acknowledging anything later with multiple=True
            # would acknowledge this batch too, so nothing more is acked.
            self._abandoned = True
            self._forget_pending()
            return
        for item, reason in (*done.plan.dead, *written.dead):
            self._dead_letter(item, reason)
        self._ack(done.batch)
        self.stats.acknowledged(self.accounting.outcome(done, written))
        self._gauge_unacked()

    def _ack(self, batch: list[Item]) -> None:
        if isinstance(self._channel, virtual.Channel):
            for item in batch:
                item.message.ack()
        else:
            self._channel.basic_ack(batch[-1].message.delivery_tag, multiple=True)

    def _dead_letter(self, item: Item, reason: str) -> None:
        assert self._producer is not None
        queue = self.accounting.queue_of(item)
        dead_letters.publish(self._producer, item.message, reason, queue)
        self.stats.dead_lettered(queue, reasons.kind_of(reason))
        info = item.message.delivery_info or {}
        LOG.warning(
            "dead-lettered a message from exchange %r routing key %r to %s: %s",
            info.get("exchange"),
            info.get("routing_key"),
            self.conf.notification.dead_letter_queue,
            reason,
        )

    def _reload(self) -> None:
        self._reload_requested = False
        if self.load_converter is None:
            return
        try:
            self.translator.converter = self.load_converter()
        except Exception:  # a bad file must not stop consuming
            LOG.exception("reloading event definitions failed; keeping the previous ones")
        else:
            LOG.info("event definitions reloaded")
