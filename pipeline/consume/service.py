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
import threading
from typing import TYPE_CHECKING, Any, TextIO

from oslo_config import cfg

from pipeline import storage
from pipeline.consume import topology
from pipeline.consume.batch import Translator, load_converter, translator_from_config
from pipeline.consume.broker import BrokerUnreachable, broker_connection, look
from pipeline.consume.consumer import Consumer
from pipeline.consume.retry import Backoff
from pipeline.consume.stats import Stats, log_report
from pipeline.consume.writer import BatchWriter
from pipeline.storage import Capability

if TYPE_CHECKING:
    from pipeline.metrics.consumer import ProcessMetrics
    from pipeline.metrics.monitor import ConsumeMonitoring

LOG = logging.getLogger(__name__)
#: Seconds a start-up look at the broker may take before it is skipped.
SURVEY_TIMEOUT = 10.0


def build_consumer(
    conf: cfg.ConfigOpts,
    conn: storage.Connection,
    *,
    feed: topology.Feed | None = None,
    translator: Translator | None = None,
    stats_stream: TextIO | None = None,
    metrics: ProcessMetrics | None = None,
) -> Consumer:
    """A consumer of ``feed`` (default: the first of ``conf``) writing to ``conn``.

    Log records and error notifications become tickets only if the driver
    stores them. ``metrics`` (None: off) are the process's metrics the
    consumer records into.
    """
    feed = feed or topology.feeds(conf)[0]
    tickets = Capability.TICKETS in conn.capabilities
    if not tickets and feed.log_records:
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
    # A consumer with nothing to read is not run: it gets no metrics, which
    # would otherwise show a broker connection that never comes up.
    reads = feed.notifications or (tickets and feed.log_records)
    stats = Stats(metrics=metrics.feed(feed.url) if metrics is not None and reads else None)
    backoff = Backoff(initial=0.5, maximum=conf.notification.max_retry_interval)
    return Consumer(
        conf,
        broker_connection(conf, feed.url),
        translator,
        BatchWriter(conn, stats, backoff),
        stats,
        tickets=tickets and feed.log_records,
        notifications=feed.notifications,
        load_converter=lambda: load_converter(conf),
        stats_stream=stats_stream,
        backlog_interval=conf.metrics.backlog_interval,
    )


def survey_broker(conf: cfg.ConfigOpts) -> None:
    """Warn, once at start, about queues shared with or stranded by another reader.

    Only looks (passive declarations): the consumers declare what is missing.
    A broker that cannot be reached now is left to the consumers' retries.
    """
    for feed in topology.feeds(conf):
        if not feed.notifications:
            continue
        try:
            survey = look(conf, feed, SURVEY_TIMEOUT)
        except BrokerUnreachable as err:
            LOG.warning("could not look at the queues before starting: %s", err)
            continue
        for warning in survey.warnings:
            LOG.warning("%s", warning)


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


def install_signals(consumers: list[Consumer]) -> None:
    """Route SIGTERM/SIGINT to a graceful stop and SIGHUP to a reload, for all."""

    def stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %s: finishing the batch in hand, then exiting", signum)
        for consumer in consumers:
            consumer.stop()

    def reload(_signum: int, _frame: Any) -> None:
        for consumer in consumers:
            consumer.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)


def run_worker(
    conf: cfg.ConfigOpts,
    stats_stream: TextIO | None = None,
    monitoring: ConsumeMonitoring | None = None,
    worker: int = 0,
) -> int:
    """Consume every feed until SIGTERM/SIGINT; return the exit status.

    One consumer per broker URL (``[notification] messaging_urls``), each
    with its own storage connection, in threads of this process; acks go to
    the connection a message came from. A consumer that dies stops the
    others, and the status is then 1 (the supervisor restarts the process).
    With ``monitoring``, the consumers record metrics as worker ``worker``.
    """
    exit_on_stop_signals()
    metrics = None if monitoring is None else monitoring.worker_metrics(worker)
    conns: list[storage.Connection] = []
    try:
        consumers = []
        for feed in topology.feeds(conf):
            conns.append(storage.get_connection_from_config(conf, require=[Capability.EVENTS]))
            consumer = build_consumer(
                conf, conns[-1], feed=feed, stats_stream=stats_stream, metrics=metrics
            )
            # A log-records-only feed has nothing to read without ticket storage.
            if consumer.notifications or consumer.tickets:
                consumers.append(consumer)
        install_signals(consumers)
        status = run_consumers(consumers)
        for consumer in consumers:
            log_report(consumer.stats.report(), stats_stream)
    finally:
        for conn in conns:
            conn.close()
    return status


def run_consumers(consumers: list[Consumer]) -> int:
    """Run each consumer in a thread (the first in this one); 0 if all stopped cleanly."""
    failed: list[Exception] = []

    def run(consumer: Consumer) -> None:
        try:
            consumer.run_until_stopped()
        except Exception as err:  # reported, and the others stopped
            LOG.exception("consumer of %s failed; stopping the others", consumer.feed.url)
            failed.append(err)
            for other in consumers:
                other.stop()

    threads = [
        threading.Thread(target=run, args=(consumer,), name=f"consumer-{index}", daemon=True)
        for index, consumer in enumerate(consumers[1:], 1)
    ]
    for thread in threads:
        thread.start()
    run(consumers[0])
    for thread in threads:
        # Joined with a timeout so this (main) thread keeps handling signals.
        while thread.is_alive():
            thread.join(0.5)
    return 1 if failed else 0
