"""``pipeline demo``: see events and tickets appear, no broker and no configuration needed."""

from __future__ import annotations

import argparse
import logging
import sys

from oslo_config import cfg

from pipeline import demo as demo_run

#: Notifications published by default; finishes in seconds on a laptop.
DEFAULT_COUNT = 2000
#: Configuration written for ``pipeline api`` when the demo ran without one.
API_CONFIG = "pipeline-demo.conf"


def demo(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Run the demo, print the summary on stdout and the progress on stderr."""
    if args.count < 1:
        print("pipeline demo: --count must be at least 1", file=sys.stderr)
        return 2
    if not args.debug:
        # The consumer's and the schema migration's INFO lines would bury the progress bar.
        logging.getLogger().setLevel(logging.WARNING)
    outcome = demo_run.run(conf, args.count, sys.stderr)
    api_conf = None
    if not conf.config_file:
        # The newcomer path: nothing configured, so a file for the API is safe to write.
        api_conf = demo_run.write_api_config(API_CONFIG, outcome.summary.location)
    print("\n".join(demo_run.report(outcome, api_conf)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow in one process and show what it stored",
        description="Start the consumer on kombu's in-memory transport, publish "
        "OpenStack notifications from several services and log records from a "
        "small application through it, store them in [database] connection (the "
        "SQLite file ./pipeline.sqlite unless a configuration file says "
        "otherwise), then print events by type, a few events with their "
        "traits, the top tickets and the commands to try next. No broker is "
        "used, whatever [DEFAULT] transport_url says. Without a configuration "
        "file it also writes ./pipeline-demo.conf, for looking at the results "
        "with 'pipeline api' on 127.0.0.1 without authentication.",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=DEFAULT_COUNT,
        metavar="N",
        help=f"notifications to publish (default {DEFAULT_COUNT}); log records add a tenth of that",
    )
    parser.set_defaults(func=demo)
