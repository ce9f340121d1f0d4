"""The ``pipeline`` command: global options, then one subcommand.

Each command group lives in its own module under :mod:`pipeline.cli` and
exposes ``register(subparsers)``; handlers take ``(conf, args)`` and return
the exit status: 0 ok, 1 not found or failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from oslo_config import cfg

from pipeline import __version__
from pipeline.exceptions import ConfigError, InvalidQuery, NotFound, PipelineError
from pipeline.service import prepare_service, setup_logging

#: Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "pipeline.cli.db",
    "pipeline.cli.consume",
    "pipeline.cli.config",
    "pipeline.cli.events",
    "pipeline.cli.tickets",
    "pipeline.cli.api",
    "pipeline.cli.demo",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOG = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Turn notifications into events and log records into "
        "tickets, beside an AMQP message bus.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config-file",
        action="append",
        default=[],
        metavar="PATH",
        help="configuration file (repeatable; later files override earlier "
        "ones). Without one, /etc/pipeline/pipeline.conf and "
        "~/.pipeline/pipeline.conf are read when present, else defaults apply "
        "(SQLite file ./pipeline.sqlite).",
    )
    parser.add_argument(
        "--config-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="directory of *.conf files read after --config-file",
    )
    parser.add_argument("--debug", "-d", action="store_true", help="log at debug level")
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        help="append log lines to PATH (overrides [DEFAULT] log_file); default: standard error",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def load_config(args: argparse.Namespace) -> cfg.ConfigOpts:
    """ConfigOpts from the global ``--config-file``/``--config-dir`` options."""
    argv: list[str] = []
    for path in args.config_file:
        argv += ["--config-file", path]
    for path in args.config_dir:
        argv += ["--config-dir", path]
    try:
        return prepare_service(argv)
    except (cfg.Error, ValueError) as err:
        raise ConfigError(f"configuration: {err}") from err


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pipeline`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug)
    try:
        conf = load_config(args)
        if args.log_file or conf.log_file:
            setup_logging(args.debug, args.log_file or conf.log_file)
        status: int = args.func(conf, args)
    except NotFound as err:
        print(f"pipeline: not found: {err}", file=sys.stderr)
        return EXIT_FAILED
    except (ConfigError, InvalidQuery) as err:
        print(f"pipeline: {err}", file=sys.stderr)
        return EXIT_USAGE
    except PipelineError as err:
        print(f"pipeline: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
