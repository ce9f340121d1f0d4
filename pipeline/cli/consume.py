"""``pipeline consume``: the long-running consumer service."""

from __future__ import annotations

import argparse
import functools
import logging
import sys

from oslo_config import cfg

from pipeline.consume.batch import load_converter
from pipeline.consume.service import run_worker, survey_broker
from pipeline.consume.workers import Supervisor
from pipeline.metrics.monitor import ConsumeMonitoring
from pipeline.storage import dress_url

LOG = logging.getLogger(__name__)


def consume(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Run ``[notification] workers`` consumers until SIGTERM/SIGINT.

    With ``[metrics] listen`` set, this process also serves the metrics and
    health probes of all of them (bound first: a port in use stops start-up).
    """
    if args.workers is not None:
        conf.set_override("workers", args.workers, "notification")
    stream = sys.stdout if args.stats else None
    if args.stats and conf.notification.stats_interval <= 0:
        conf.set_override("stats_interval", 10, "notification")
    LOG.info(
        "consuming from %s into %s",
        dress_url(conf.transport_url),
        dress_url(conf.database.connection),
    )
    workers = conf.notification.workers
    if workers > 1:
        # A bad definitions file would make every worker die at start-up and be
        # restarted forever: fail once, here, with the file:line:column instead.
        load_converter(conf)
    monitoring = ConsumeMonitoring.from_config(conf, workers)
    try:
        if monitoring is not None:
            monitoring.start()
        # Once, before any worker consumes: other readers of our queues, and
        # queues nobody reads, are only visible now (our own workers would count).
        survey_broker(conf)
        if workers == 1:
            return run_worker(conf, stream, monitoring)
        supervisor = Supervisor(
            functools.partial(run_worker, conf, stream, monitoring),
            workers,
            on_exit=None if monitoring is None else monitoring.worker_exited,
            on_tick=None if monitoring is None else monitoring.watch,
        )
        return supervisor.run()
    finally:
        if monitoring is not None:
            monitoring.close()


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``consume``."""
    parser = subparsers.add_parser(
        "consume",
        help="consume notifications and log records from the message bus",
        description="Check the exchanges and queues of [notification] and "
        "[ticketing] on the broker, declare the missing ones (as oslo.messaging "
        "would, for the services' own), then store every notification as an event and every log "
        "record (and error notification) as a ticket occurrence, in batches. "
        "SIGTERM/SIGINT finish the batch in hand and exit 0; SIGHUP reloads "
        "the event definitions.",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="consumer processes (overrides [notification] workers)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="also print the periodic statistics as JSON lines on stdout "
        "(every [notification] stats_interval seconds, 10 if disabled) and at exit",
    )
    parser.set_defaults(func=consume)
