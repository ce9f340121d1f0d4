"""The systemd units under etc/systemd run commands this pipeline actually has."""

from __future__ import annotations

import pathlib
import shlex

import pytest

from pipeline import cli

UNITS = sorted((pathlib.Path(__file__).resolve().parents[2] / "etc/systemd").glob("*.service"))


def _commands(unit: pathlib.Path) -> list[list[str]]:
    commands = []
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("ExecStartPre", "ExecStart"):
            commands.append(shlex.split(value))
    return commands


def test_there_is_a_unit_for_the_consumer_and_the_api() -> None:
    assert [unit.name for unit in UNITS] == ["pipeline-api.service", "pipeline-consume.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_every_command_of_the_unit_parses(unit: pathlib.Path) -> None:
    parser = cli.build_parser()
    commands = _commands(unit)
    assert commands and all(command[0].endswith("/bin/pipeline") for command in commands)
    for command in commands:
        args = parser.parse_args(command[1:])  # exits (fails the test) on an unknown command
        assert args.config_file == ["/etc/pipeline/pipeline.conf"]
    assert args.command == unit.stem.removeprefix("pipeline-")
