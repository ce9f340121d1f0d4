"""Counters of one consumer process and the periodic report built from them.

Totals only grow; a report gives rates over the interval since the previous
report (messages/s, events/s, tickets/s) plus running totals of
dead-lettered messages, duplicates, dropped (unmatched) notifications,
tickets created and reopened (regressed) and storage retries, and the batch write latency (mean and max over the
interval). The same numbers feed the log line and ``pipeline consume
--stats`` (one JSON object per line).

:class:`Stats` is the one place the consumer counts: each of its methods
updates the totals and, when metrics are on, the consumer's Prometheus
metrics (:class:`pipeline.metrics.consumer.FeedMetrics`) at the same
moment. Everything is counted per batch, per dead letter or per connection
change, never per message.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pipeline.metrics.consumer import FeedMetrics

LOG = logging.getLogger(__name__)


@dataclass
class Totals:
    """Running totals since the process started."""

    messages: int = 0
    events: int = 0
    tickets: int = 0
    tickets_created: int = 0
    tickets_regressed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    dropped: int = 0
    batches: int = 0
    storage_retries: int = 0
    reconnects: int = 0


@dataclass
class Outcome:
    """What one acknowledged batch did; the mappings count per queue (or event type).

    The per-queue and per-type mappings are only filled when metrics are on.
    """

    messages: int
    events: int = 0
    duplicates: int = 0
    tickets: int = 0
    dropped: int = 0
    tickets_created: int = 0
    tickets_regressed: int = 0
    queues: Mapping[str, int] = field(default_factory=dict)
    duplicate_queues: Mapping[str, int] = field(default_factory=dict)
    dropped_queues: Mapping[str, int] = field(default_factory=dict)
    event_types: Mapping[str, int] = field(default_factory=dict)


@dataclass
class Stats:
    """What the consumer counts; :meth:`report` turns it into rates.

    ``metrics`` (None: metrics off) receives the same counts.
    """

    totals: Totals = field(default_factory=Totals)
    metrics: FeedMetrics | None = None
    _since: float = field(default_factory=time.monotonic)
    _last: Totals = field(default_factory=Totals)
    _latencies: list[float] = field(default_factory=list)

    def batch_written(self, seconds: float) -> None:
        """Record one batch write (storage calls only) and its duration (storage thread)."""
        self.totals.batches += 1
        self._latencies.append(seconds)
        if self.metrics is not None:
            self.metrics.batch_written(seconds)

    def storage_retry(self, delay: float) -> None:
        """A batch write failed; it is retried after ``delay`` seconds (storage thread)."""
        self.totals.storage_retries += 1
        if self.metrics is not None:
            self.metrics.storage_retry(delay)

    def reconnected(self) -> None:
        """The broker connection was re-established."""
        self.totals.reconnects += 1
        if self.metrics is not None:
            self.metrics.reconnects.inc()

    def received(self, queues: Mapping[str, int], batch_size: int | None) -> None:
        """Messages received per queue (see :meth:`FeedMetrics.received`); metrics only."""
        if self.metrics is not None:
            self.metrics.received(queues, batch_size)

    def acknowledged(self, outcome: Outcome) -> None:
        """A stored batch was acknowledged."""
        totals = self.totals
        totals.messages += outcome.messages
        totals.events += outcome.events
        totals.duplicates += outcome.duplicates
        totals.tickets += outcome.tickets
        totals.dropped += outcome.dropped
        self.tickets_changed(outcome.tickets_created, outcome.tickets_regressed)
        if self.metrics is not None:
            self.metrics.acknowledged(
                outcome.queues,
                outcome.duplicate_queues,
                outcome.dropped_queues,
                outcome.event_types,
                outcome.tickets,
            )

    def tickets_changed(self, created: int, regressed: int) -> None:
        """A stored batch created ``created`` tickets and reopened ``regressed``.

        Counted once the batch is stored, acknowledged or not: a batch whose
        connection was lost before its acknowledgement is redelivered, and
        the redelivery, finding its records stored, creates nothing.
        """
        self.totals.tickets_created += created
        self.totals.tickets_regressed += regressed
        if self.metrics is not None:
            self.metrics.tickets_changed(created, regressed)

    def dead_lettered(self, queue: str, kind: str) -> None:
        """One message of ``queue`` was dead-lettered for a reason of class ``kind``."""
        self.totals.dead_lettered += 1
        if self.metrics is not None:
            self.metrics.dead_lettered(queue, kind)

    def due(self, interval: float) -> bool:
        """True when ``interval`` seconds have passed since the last report."""
        return interval > 0 and time.monotonic() - self._since >= interval

    def report(self) -> dict[str, Any]:
        """Rates since the previous report plus totals; starts a new interval."""
        now = time.monotonic()
        elapsed = max(now - self._since, 1e-9)
        current, last = self.totals, self._last
        latencies = self._latencies
        line: dict[str, Any] = {
            "pid": os.getpid(),
            "interval_s": round(elapsed, 3),
            "messages_per_s": round((current.messages - last.messages) / elapsed, 1),
            "events_per_s": round((current.events - last.events) / elapsed, 1),
            "tickets_per_s": round((current.tickets - last.tickets) / elapsed, 1),
            "batch_write_ms_mean": round(1000 * sum(latencies) / len(latencies), 2)
            if latencies
            else None,
            "batch_write_ms_max": round(1000 * max(latencies), 2) if latencies else None,
            **asdict(current),
        }
        self._since = now
        self._last = Totals(**asdict(current))
        self._latencies = []
        return line


def log_report(line: dict[str, Any], stream: TextIO | None = None) -> None:
    """Log a report at INFO, and write it as JSON to ``stream`` when given."""
    LOG.info(
        "%.1f msg/s, %.1f events/s, %.1f tickets/s; totals: %d messages, %d events, "
        "%d tickets (%d new tickets, %d regressed), %d dead-lettered, %d duplicates, "
        "%d dropped, %d storage retries; "
        "batch write %s ms mean, %s ms max",
        line["messages_per_s"],
        line["events_per_s"],
        line["tickets_per_s"],
        line["messages"],
        line["events"],
        line["tickets"],
        line["tickets_created"],
        line["tickets_regressed"],
        line["dead_lettered"],
        line["duplicates"],
        line["dropped"],
        line["storage_retries"],
        line["batch_write_ms_mean"],
        line["batch_write_ms_max"],
    )
    if stream is not None:
        stream.write(json.dumps(line, sort_keys=True) + "\n")
        stream.flush()
