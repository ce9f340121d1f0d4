"""The Prometheus metrics of one consumer process, and what each consumer records.

:class:`ProcessMetrics` creates every metric a ``pipeline consume`` worker
exports (names and meanings: README.rst, *Monitoring*); :class:`FeedMetrics`
is one consumer's view of them, its broker label bound. They are fed by
:class:`pipeline.consume.stats.Stats` at the points where it counts (per
batch, per dead letter, per connection change), never per message.

Counters carry no worker label: the exporter sums them over the worker
processes, and a restarted worker's counts stay in the sums. Gauges that
describe one process carry ``worker`` (its slot, 0..workers-1) and vanish
with the process (``live*`` multiprocess modes).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipeline.consume import reasons
from pipeline.consume.broker import kombu_url

#: Messages per batch: the configured batch size is usually one of these.
BATCH_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
#: Seconds one batch write takes (record_events + record_tickets).
WRITE_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: The label of event types beyond the first ``event_type_labels``.
OTHER = "other"


def broker_label(url: str) -> str:
    """``scheme://host:port/vhost`` of a broker URL (first host of a list), no credentials."""
    first = kombu_url(url).split(";")[0]
    parts = urlsplit(first)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    vhost = parts.path.removeprefix("/")
    return f"{parts.scheme}://{host}{port}/{vhost or ''}"


class ProcessMetrics:
    """Every metric of one consumer process (``worker`` is its slot)."""

    def __init__(
        self,
        worker: int,
        event_type_labels: int = 100,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.worker = str(worker)
        self.event_type_labels = event_type_labels
        self._event_types: dict[str, Counter] = {}
        make = _Factory(registry)
        self._messages(make)
        self._storage(make)
        self._broker(make)
        started = make.gauge(
            "pipeline_process_start_time_seconds",
            "Unix time the consumer process started",
            ["worker"],
        )
        # Created first thing in a worker, so "now" is its start to within a moment.
        now = time.time()
        started.labels(self.worker).set(now)
        self.last_commit.set(now)

    def _messages(self, make: _Factory) -> None:
        """What became of the messages, per queue, reason and event type."""
        self.received = make.counter(
            "pipeline_messages_received", "Messages delivered to the consumer", ["queue"]
        )
        self.acknowledged = make.counter(
            "pipeline_messages_acknowledged",
            "Messages acknowledged after their batch was stored (dead letters included)",
            ["queue"],
        )
        self.dead_lettered = make.counter(
            "pipeline_messages_dead_lettered",
            "Messages published to the dead-letter exchange, by reason class",
            ["queue", "reason"],
        )
        self.duplicates = make.counter(
            "pipeline_messages_duplicate",
            "Notifications whose event was already stored (redeliveries, repeats)",
            ["queue"],
        )
        self.dropped = make.counter(
            "pipeline_notifications_dropped",
            "Notifications no event definition matched, dropped on purpose",
            ["queue"],
        )
        self.events = make.counter(
            "pipeline_events_stored",
            "Events stored, by event type (the first event_type_labels types; the rest 'other')",
            ["event_type"],
        )
        self.events_other = self.events.labels(OTHER)
        self.occurrences = make.counter(
            "pipeline_ticket_occurrences_stored", "Ticket records (occurrences) stored"
        )
        self.tickets_created = make.counter(
            "pipeline_tickets_created", "Tickets created by the records stored"
        )
        self.tickets_regressed = make.counter(
            "pipeline_tickets_regressed",
            "Solved tickets reopened (status regressed) by the records stored",
        )

    def _storage(self, make: _Factory) -> None:
        """Batches, their writes, and the retries while storage is unavailable."""
        self.batch_size = make.histogram(
            "pipeline_batch_size_messages",
            "Messages per batch handed to storage",
            BATCH_SIZE_BUCKETS,
        )
        self.write_seconds = make.histogram(
            "pipeline_batch_write_seconds",
            "Seconds a successful batch write took (all its storage calls)",
            WRITE_SECONDS_BUCKETS,
        )
        self.retries = make.counter(
            "pipeline_storage_retries", "Batch writes retried because storage was unavailable"
        )
        self.backoff = make.gauge(
            "pipeline_storage_backoff_seconds",
            "Current pause before the next storage retry (0: storage answering)",
            ["worker"],
        ).labels(self.worker)
        self.last_commit = make.gauge(
            "pipeline_last_commit_timestamp_seconds",
            "Unix time of the last successful batch write (process start before the first)",
            ["worker"],
        ).labels(self.worker)

    def _broker(self, make: _Factory) -> None:
        """Connections, messages in flight, and the queues' depth."""
        self.connected = make.gauge(
            "pipeline_broker_connected",
            "1 while the consumer's broker connection is up and consuming",
            ["worker", "broker"],
        )
        self.reconnects = make.counter(
            "pipeline_broker_reconnects", "Broker connections re-established", ["broker"]
        )
        self.unacked = make.gauge(
            "pipeline_unacknowledged_messages",
            "Messages delivered and not yet acknowledged (bounded by the prefetch)",
            ["worker", "broker"],
        )
        self.queue_messages = make.gauge(
            "pipeline_queue_messages",
            "Messages ready in a queue, from a passive declare every backlog_interval",
            ["broker", "queue"],
        )
        self.queue_consumers = make.gauge(
            "pipeline_queue_consumers",
            "Consumers of a queue (all programs), from the same passive declare",
            ["broker", "queue"],
        )

    def feed(self, broker_url: str) -> FeedMetrics:
        """What one consumer (of ``broker_url``) records."""
        return FeedMetrics(self, broker_label(broker_url))

    def event_type(self, name: str) -> Counter:
        """The events-stored counter of ``name``: its own up to the limit, then ``other``."""
        child = self._event_types.get(name)
        if child is None:
            if len(self._event_types) < self.event_type_labels:
                child = self.events.labels(name)
            else:
                child = self.events_other
            self._event_types[name] = child
        return child


class FeedMetrics:
    """One consumer's records into its process's metrics (broker label bound)."""

    def __init__(self, process: ProcessMetrics, broker: str) -> None:
        self.process = process
        self.broker = broker
        self.connected = process.connected.labels(process.worker, broker)
        self.unacked = process.unacked.labels(process.worker, broker)
        self.reconnects = process.reconnects.labels(broker)

    def prepare(self, queues: Iterable[str]) -> None:
        """Create every per-queue series at 0, so rates and dashboards start at once."""
        process = self.process
        for queue in queues:
            for family in (process.received, process.acknowledged, process.duplicates):
                family.labels(queue)
            process.dropped.labels(queue)
            for kind in reasons.KINDS:
                process.dead_lettered.labels(queue, kind)

    def received(self, queues: Mapping[str, int], batch_size: int | None) -> None:
        """Messages per queue received; ``batch_size``: they form a batch handed to storage.

        Without a batch size they were received and then forgotten (a lost
        connection; the broker redelivers them).
        """
        family = self.process.received
        for queue, count in queues.items():
            family.labels(queue).inc(count)
        if batch_size is not None:
            self.process.batch_size.observe(batch_size)

    def acknowledged(
        self,
        queues: Mapping[str, int],
        duplicates: Mapping[str, int],
        dropped: Mapping[str, int],
        event_types: Mapping[str, int],
        occurrences: int,
    ) -> None:
        """What one acknowledged batch did, per queue and per event type."""
        process = self.process
        for family, counts in (
            (process.acknowledged, queues),
            (process.duplicates, duplicates),
            (process.dropped, dropped),
        ):
            for queue, count in counts.items():
                family.labels(queue).inc(count)
        for event_type, count in event_types.items():
            process.event_type(event_type).inc(count)
        if occurrences:
            process.occurrences.inc(occurrences)

    def tickets_changed(self, created: int, regressed: int) -> None:
        """A stored batch (acknowledged or not) created ``created`` tickets, reopened ``regressed``
        solved ones (each counted by exactly one writer: see ``TicketResult``)."""
        if created:
            self.process.tickets_created.inc(created)
        if regressed:
            self.process.tickets_regressed.inc(regressed)

    def dead_lettered(self, queue: str, kind: str) -> None:
        """One message dead-lettered from ``queue`` for a reason of class ``kind``."""
        self.process.dead_lettered.labels(queue, kind).inc()

    def batch_written(self, seconds: float) -> None:
        """A batch write committed after ``seconds`` (storage thread)."""
        process = self.process
        process.write_seconds.observe(seconds)
        process.last_commit.set(time.time())
        process.backoff.set(0)

    def storage_retry(self, delay: float) -> None:
        """Storage unavailable: the batch is retried after ``delay`` seconds."""
        self.process.retries.inc()
        self.process.backoff.set(delay)

    def queue_depth(self, queue: str, messages: int, consumers: int) -> None:
        """What a passive declare of ``queue`` answered."""
        self.process.queue_messages.labels(self.broker, queue).set(messages)
        self.process.queue_consumers.labels(self.broker, queue).set(consumers)


class _Factory:
    """Metric constructors bound to one registry; gauges live and die with their process."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = registry

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str]) -> Gauge:
        # livemax: a worker's gauges vanish when it exits; series shared by
        # workers (a queue's depth) show the largest live value.
        return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode="livemax")

    def histogram(self, name: str, doc: str, buckets: Sequence[float]) -> Histogram:
        return Histogram(name, doc, buckets=buckets, registry=self.registry)
