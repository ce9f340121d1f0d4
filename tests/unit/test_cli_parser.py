"""The ``pipeline`` parser: global options before or after the subcommand, at any depth."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from pipeline import __version__, cli

#: Command lines at every depth of subcommands, with their required arguments.
COMMANDS = [
    ["dbsync"],
    ["consume"],
    ["event-types"],
    ["events", "list"],
    ["events", "show", "m1"],
    ["tickets", "list"],
    ["tickets", "show", "7"],
    ["config", "check"],
]

#: Each global option's arguments and the attributes it sets.
GLOBALS = {
    "config-file": (["--config-file", "a.conf"], {"config_file": ["a.conf"]}),
    "config-dir": (["--config-dir", "conf.d"], {"config_dir": ["conf.d"]}),
    "debug": (["--debug"], {"debug": True}),
    "d": (["-d"], {"debug": True}),
    "log-file": (["--log-file", "p.log"], {"log_file": "p.log"}),
}

#: What the top-level parser gives when no global option is on the command line.
DEFAULTS = {"config_file": [], "config_dir": [], "debug": False, "log_file": None}


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def _globals_of(args: argparse.Namespace) -> dict[str, object]:
    return {name: getattr(args, name) for name in DEFAULTS}


def _every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    assert isinstance(parser, cli.CommandParser)
    for action in parser.subcommand_actions:
        for child in dict.fromkeys(action.choices.values()):
            yield from _every_parser(child)


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (command, option)
        for command in COMMANDS
        for option in GLOBALS
        # config check has its own --config-file: the files to check
        if (command, option) != (["config", "check"], "config-file")
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_a_global_option_means_the_same_before_and_after_the_subcommand(
    command: list[str], option: str
) -> None:
    """Before, after, and (nested) between the group and its action: one result."""
    given, expected = GLOBALS[option]
    positions = [[*given, *command], [*command, *given], [*command[:1], *given, *command[1:]]]
    for argv in positions:
        assert _globals_of(parse(*argv)) == {**DEFAULTS, **expected}, argv


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_without_global_options_the_defaults_apply(command: list[str]) -> None:
    assert _globals_of(parse(*command)) == DEFAULTS


@pytest.mark.parametrize("position", ["before", "after"])
def test_version_is_a_global_option_too(position: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = (
        ["--version", "tickets", "list"]
        if position == "before"
        else ["tickets", "list", "--version"]
    )
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"pipeline {__version__}"


def test_repeatable_options_add_up_in_command_line_order_across_levels() -> None:
    args = parse(
        "--config-file", "1.conf", "--config-dir", "a.d",
        "tickets", "--config-file", "2.conf",
        "list", "--config-dir", "b.d", "--config-file", "3.conf", "--config-file", "4.conf",
    )  # fmt: skip
    assert args.config_file == ["1.conf", "2.conf", "3.conf", "4.conf"]
    assert args.config_dir == ["a.d", "b.d"]


def test_values_given_before_survive_a_subcommand_that_gets_none() -> None:
    """The subcommand's parser has no defaults that could overwrite them."""
    args = parse("-d", "--log-file", "p.log", "--config-file", "a.conf", "events", "list")
    assert _globals_of(args) == {
        **DEFAULTS,
        "debug": True,
        "log_file": "p.log",
        "config_file": ["a.conf"],
    }


def test_the_last_log_file_wins_whichever_side_it_is_on() -> None:
    assert parse("--log-file", "1.log", "dbsync", "--log-file", "2.log").log_file == "2.log"
    assert parse("tickets", "--log-file", "1.log", "list", "--log-file", "2.log").log_file == (
        "2.log"
    )


@pytest.mark.parametrize("command", [[], *COMMANDS], ids=lambda c: " ".join(c) or "pipeline")
def test_help_lists_the_global_options_once(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse(*command, "--help")
    text = capsys.readouterr().out
    assert text.count("global options:") == 1
    for option in ("--version", "--config-file", "--config-dir", "--debug, -d", "--log-file"):
        assert len(re.findall(rf"^ +{option}\b", text, re.MULTILINE)) == 1, option


def test_every_subcommand_at_every_depth_has_the_global_options() -> None:
    """Also those this test module does not name (new commands get them for free)."""
    parsers = list(_every_parser(cli.build_parser()))
    assert len(parsers) > len(COMMANDS)
    for parser in parsers:
        strings = {s for action in parser._actions for s in action.option_strings}
        missing = {"--version", "--config-file", "--config-dir", "--debug", "-d", "--log-file"}
        assert not missing - strings, parser.prog


@pytest.mark.parametrize(
    "argv",
    [
        ["dbsync", "--bogus"],
        ["--bogus", "dbsync"],
        ["tickets", "list", "--config-file"],
        ["tickets", "--debug=yes", "list"],
    ],
)
def test_bad_options_stay_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    assert "usage: pipeline" in capsys.readouterr().err


def test_a_subcommand_option_named_like_a_global_one_wins_in_that_subcommand() -> None:
    parser = cli.CommandParser(prog="p")
    subcommands = parser.add_subparsers(dest="command")
    subcommands.add_parser("x").add_argument("--debug", dest="x_debug", choices=["on", "off"])
    subcommands.add_parser("y")
    parser.add_global_options(top_level=True)
    assert vars(parser.parse_args(["x", "--debug", "on"]))["x_debug"] == "on"
    assert parser.parse_args(["x", "--debug", "on"]).debug is False
    assert parser.parse_args(["-d", "x"]).debug is True  # still a global option before it
    assert parser.parse_args(["y", "--debug"]).debug is True
