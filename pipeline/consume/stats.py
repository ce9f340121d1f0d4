"""Counters of one consumer process and the periodic report built from them.

Totals only grow; a report gives rates over the interval since the previous
report (messages/s, events/s, tickets/s) plus running totals of
dead-lettered messages, duplicates, dropped (unmatched) notifications and
storage retries, and the batch write latency (mean and max over the
interval). The same numbers feed the log line and ``pipeline consume
--stats`` (one JSON object per line).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

LOG = logging.getLogger(__name__)


@dataclass
class Totals:
    """Running totals since the process started."""

    messages: int = 0
    events: int = 0
    tickets: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    dropped: int = 0
    batches: int = 0
    storage_retries: int = 0
    reconnects: int = 0


@dataclass
class Stats:
    """What the consumer counts; :meth:`report` turns it into rates."""

    totals: Totals = field(default_factory=Totals)
    _since: float = field(default_factory=time.monotonic)
    _last: Totals = field(default_factory=Totals)
    _latencies: list[float] = field(default_factory=list)

    def batch_written(self, seconds: float) -> None:
        """Record one batch write (storage calls only) and its duration."""
        self.totals.batches += 1
        self._latencies.append(seconds)

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
        "%d tickets, %d dead-lettered, %d duplicates, %d dropped, %d storage retries; "
        "batch write %s ms mean, %s ms max",
        line["messages_per_s"],
        line["events_per_s"],
        line["tickets_per_s"],
        line["messages"],
        line["events"],
        line["tickets"],
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
