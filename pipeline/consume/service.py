"""One consumer process: storage, converters, broker connection and signals.

Signals: ``SIGTERM`` and ``SIGINT`` stop taking messages; the batch in hand
is stored and acknowledged and the process exits with status 0. ``SIGHUP``
reloads the event definitions between two messages, nothing is dropped (a
bad file is logged and the previous definitions stay in force).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any, TextIO

import kombu
from oslo_config import cfg

from pipeline import storage
from pipeline.consume.batch import Translator, load_converter, translator_from_config
from pipeline.consume.consumer import Consumer
from pipeline.consume.retry import Backoff
from pipeline.consume.stats import Stats, log_report
from pipeline.consume.writer import BatchWriter
from pipeline.storage import Capability

LOG = logging.getLogger(__name__)
#: Seconds of broker silence after which the connection counts as dead.
HEARTBEAT = 60


def broker_connection(conf: cfg.ConfigOpts) -> kombu.Connection:
    """The kombu connection of ``[DEFAULT] transport_url`` (AMQP: publisher confirms)."""
    conn = kombu.Connection(conf.transport_url, heartbeat=HEARTBEAT)
    if conn.transport.driver_type == "amqp":
        # Dead letters are acknowledged away only once the broker confirmed
        # them; the name makes the connection easy to find in rabbitmqctl.
        conn.transport_options = {
            **(conn.transport_options or {}),
            "confirm_publish": True,
            "client_properties": {"connection_name": f"pipeline-consume pid {os.getpid()}"},
        }
    return conn


def build_consumer(
    conf: cfg.ConfigOpts,
    conn: storage.Connection,
    *,
    translator: Translator | None = None,
    stats_stream: TextIO | None = None,
) -> Consumer:
    """A consumer writing to ``conn``; tickets only if the driver stores them."""
    tickets = Capability.TICKETS in conn.capabilities
    if not tickets:
        LOG.warning(
            "storage driver %s does not store tickets: the %s queue is not consumed "
            "and no notification becomes a ticket",
            storage.url_scheme(conn.url),
            conf.ticketing.queue,
        )
    if translator is None:
        translator = translator_from_config(conf)
    if not tickets:
        translator.ticket_priorities = frozenset()
    stats = Stats()
    backoff = Backoff(initial=0.5, maximum=conf.notification.max_retry_interval)
    return Consumer(
        conf,
        broker_connection(conf),
        translator,
        BatchWriter(conn, stats, backoff),
        stats,
        tickets=tickets,
        load_converter=lambda: load_converter(conf),
        stats_stream=stats_stream,
    )


def exit_on_stop_signals() -> None:
    """Until a consumer exists, SIGTERM/SIGINT exit at once with status 0.

    Nothing has been received yet, so there is nothing to finish; this
    covers start-up (connecting to storage may be retried for a long time)
    and a worker the supervisor has just forked.
    """

    def leave(signum: int, _frame: Any) -> None:
        LOG.info("signal %s during start-up: exiting", signum)
        logging.shutdown()
        # os._exit, not SystemExit: start-up code (drivers, alembic, client
        # libraries) may catch BaseException and turn the exit into a failure.
        os._exit(0)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


def install_signals(consumer: Consumer) -> None:
    """Route SIGTERM/SIGINT to a graceful stop and SIGHUP to a reload."""

    def stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %s: finishing the batch in hand, then exiting", signum)
        consumer.stop()

    def reload(_signum: int, _frame: Any) -> None:
        consumer.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)


def run_worker(conf: cfg.ConfigOpts, stats_stream: TextIO | None = None) -> int:
    """Consume until SIGTERM/SIGINT; return the exit status (0)."""
    exit_on_stop_signals()
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
    try:
        consumer = build_consumer(conf, conn, stats_stream=stats_stream)
        install_signals(consumer)
        consumer.run_until_stopped()
        log_report(consumer.stats.report(), stats_stream)
    finally:
        conn.close()
    return 0
