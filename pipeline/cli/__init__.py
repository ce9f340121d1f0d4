"""The ``pipeline`` command: one subcommand, global options before or after it.

Each command group lives in its own module under :mod:`pipeline.cli` and
exposes ``register(subparsers)``; handlers take ``(conf, args)`` and return
the exit status: 0 ok, 1 not found or failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from pipeline import __version__
from pipeline.exceptions import ConfigError, InvalidQuery, NotFound, PipelineError
from pipeline.service import prepare_service, setup_logging

#: Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "pipeline.cli.db",
    "pipeline.cli.consume",
    "pipeline.cli.config",
    "pipeline.cli.status",
    "pipeline.cli.events",
    "pipeline.cli.tickets",
    "pipeline.cli.api",
    "pipeline.cli.demo",
    "pipeline.cli.imports",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOG = logging.getLogger(__name__)


#: Global options that may be repeated: the values given at every level add up, in order.
REPEATABLE_GLOBALS = ("config_file", "config_dir")


def _global_options(top_level: bool) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """(option strings, add_argument keywords) of every global option.

    Only the top-level parser has defaults. Below a subcommand the default is
    ``SUPPRESS``: argparse copies every attribute a subcommand's parser sets
    onto the enclosing namespace, so a default there would overwrite what was
    given before the subcommand.
    """

    def default(value: object) -> object:
        return value if top_level else argparse.SUPPRESS

    return [
        (("--version",), {"action": "version", "version": f"pipeline {__version__}"}),
        (
            ("--config-file",),
            {
                "action": "append",
                "default": default([]),
                "metavar": "PATH",
                "help": "configuration file (repeatable; later files override earlier "
                "ones). Without one, /etc/pipeline/pipeline.conf and "
                "~/.pipeline/pipeline.conf are read when present, else defaults apply "
                "(SQLite file ./pipeline.sqlite).",
            },
        ),
        (
            ("--config-dir",),
            {
                "action": "append",
                "default": default([]),
                "metavar": "DIR",
                "help": "directory of *.conf files read after --config-file (repeatable)",
            },
        ),
        (
            ("--debug", "-d"),
            {"action": "store_true", "default": default(False), "help": "log at debug level"},
        ),
        (
            ("--log-file",),
            {
                "metavar": "PATH",
                "default": default(None),
                "help": "append log lines to PATH (overrides [DEFAULT] log_file); "
                "default: standard error",
            },
        ),
    ]


class SubcommandAction(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Runs a subcommand's parser, keeping repeatable options given before it.

    argparse replaces the enclosing level's values with the subcommand's:
    ``--config-file`` given on both sides would lose the first ones.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        before = {dest: getattr(namespace, dest, None) for dest in REPEATABLE_GLOBALS}
        super().__call__(parser, namespace, values, option_string)
        for dest, earlier in before.items():
            later = getattr(namespace, dest, None)
            if earlier and later is not earlier:  # the subcommand was given some too
                setattr(namespace, dest, earlier + later)


class CommandParser(argparse.ArgumentParser):
    """A parser whose subcommands, at any depth, take its global options too.

    ``add_subparsers`` makes a parser's subcommands of the parser's own class,
    so nested subcommands (``pipeline tickets list``) are of this class too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", SubcommandAction)
        self.subcommand_actions: list[argparse._SubParsersAction[CommandParser]] = []

    def add_subparsers(self, **kwargs: Any) -> Any:  # type: ignore[override]
        """``ArgumentParser.add_subparsers``, remembering the action for the global options."""
        action = super().add_subparsers(**kwargs)
        self.subcommand_actions.append(action)
        return action

    def add_global_options(self, *, top_level: bool = False) -> None:
        """Add the global options here and to every subcommand below, once registered.

        A subcommand's own option of the same name wins in that subcommand
        (``pipeline config check --config-file`` names the files to check).
        """
        group = self.add_argument_group("global options", "accepted before or after the subcommand")
        for names, keywords in _global_options(top_level):
            with contextlib.suppress(argparse.ArgumentError):  # the subcommand defines its own
                group.add_argument(*names, **keywords)
        for action in self.subcommand_actions:
            for parser in dict.fromkeys(action.choices.values()):  # aliases: once
                parser.add_global_options()


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand.

    The global options are accepted before or after the subcommand, at any
    depth, and mean the same in every position.
    """
    parser = CommandParser(
        prog="pipeline",
        description="Turn notifications into events and log records into "
        "tickets, beside an AMQP message bus.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    parser.add_global_options(top_level=True)
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
