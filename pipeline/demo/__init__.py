"""``pipeline demo``: the whole flow in one process, no broker, no configuration.

The real consumer (:mod:`pipeline.consume`) runs in a thread on kombu's
in-memory transport; the demo publishes OpenStack notifications
(:mod:`pipeline.demo.traffic`) and log records from a small application's
call sites (:mod:`pipeline.demo.shop`) on that transport, waits, showing a
progress bar, until the consumer has stored every message, then prints
what the storage holds (:mod:`pipeline.demo.summary`). Storage is
``[database] connection``: the embedded SQLite file ``./pipeline.sqlite``
unless a configuration file says otherwise. The transport URL of any
configuration is ignored: the demo never touches a real broker.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import kombu
from oslo_config import cfg

from pipeline import storage
from pipeline.consume.service import build_consumer
from pipeline.demo import shop, traffic
from pipeline.demo.progress import ProgressBar
from pipeline.demo.summary import Summary, collect, render
from pipeline.exceptions import PipelineError
from pipeline.storage import Capability

LOG = logging.getLogger(__name__)
#: kombu's in-process transport (a host name keeps kombu from warning).
MEMORY_URL = "memory://localhost/"
#: Seconds without progress after which the demo gives up.
STALL_TIMEOUT = 30.0


class DemoStalled(PipelineError):
    """The consumer stopped storing messages before all were stored."""


@dataclass
class Outcome:
    """What a demo run published and what the storage holds afterwards."""

    notifications: int
    log_records: int
    seconds: float
    summary: Summary


def _wait(
    consumer_thread: threading.Thread, stored: Callable[[], int], total: int, bar: ProgressBar
) -> None:
    """Draw progress until ``total`` messages are stored; raise if that stalls."""
    last, last_change = -1, time.monotonic()
    while (done := stored()) < total:
        if done != last:
            last, last_change = done, time.monotonic()
            bar.update(done)
        if not consumer_thread.is_alive() or time.monotonic() - last_change > STALL_TIMEOUT:
            raise DemoStalled(f"only {done} of {total} messages were stored; see the log above")
        time.sleep(0.05)
    bar.finish(stored())


def run(conf: cfg.ConfigOpts, count: int, progress: TextIO) -> Outcome:
    """Publish ``count`` notifications and some log records, consume, summarise."""
    conf.set_override("transport_url", MEMORY_URL)
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
    try:
        conn.upgrade()
        consumer = build_consumer(conf, conn, stats_stream=io.StringIO())
        thread = threading.Thread(
            target=consumer.run_until_stopped, name="demo-consumer", daemon=True
        )
        started = time.monotonic()
        thread.start()
        try:
            now = dt.datetime.now(dt.UTC)
            with kombu.Connection(MEMORY_URL) as bus:
                sent = traffic.publish(
                    bus, conf, traffic.notifications(count, now, conf.notification.exchanges)
                )
                records = 0
                if Capability.TICKETS in conn.capabilities:
                    records = shop.run(MEMORY_URL, conf, max(count // 10, 1), now)
            bar = ProgressBar(sent + records, "messages consumed and stored", progress)
            _wait(thread, lambda: consumer.stats.totals.messages, sent + records, bar)
        finally:
            consumer.stop()
            thread.join(STALL_TIMEOUT)
        seconds = time.monotonic() - started
        return Outcome(sent, records, seconds, collect(conn))
    finally:
        conn.close()


def write_api_config(path: str, database: str) -> str:
    """Write a configuration for browsing the demo's SQLite file with ``pipeline api``.

    The API runs without authentication with it, so it is only written for
    the default, local set-up. Returns ``path``.
    """
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            "# Written by 'pipeline demo': its database, and the API without\n"
            "# authentication, for a local look only. Never use in production.\n"
            f"[database]\nconnection = sqlite:///{database}\n"
            "[api]\nhost = 127.0.0.1\nauth_strategy = noauth\n"
        )
    return path


def report(outcome: Outcome, api_config: str | None = None) -> list[str]:
    """The lines ``pipeline demo`` prints after a run."""
    total = outcome.notifications + outcome.log_records
    api = f"pipeline --config-file {api_config} api" if api_config else "pipeline api"
    return [
        (
            f"Published {outcome.notifications} notifications and {outcome.log_records} log "
            f"records on the in-memory bus; consumed and stored in {outcome.seconds:.1f} s "
            f"({total / max(outcome.seconds, 1e-9):.0f} messages/s)."
        ),
        *render(outcome.summary),
        "",
        f"Database: {outcome.summary.location}",
        "",
        "Next, try:",
        "  pipeline events list       # the stored events; --help shows the filters",
        "  pipeline tickets list      # tickets, most recently seen first",
        "  pip install '.[api]'       # then the REST API and the tickets page:",
        f"  {api}" + ("   # open http://127.0.0.1:8977/" if api_config else ""),
    ]
