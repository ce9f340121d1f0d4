"""The systemd units under etc/systemd run commands this pipeline actually has."""

from __future__ import annotations

import pathlib
import shlex
import shutil
import subprocess
import sys

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


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: pathlib.Path) -> None:
    """systemd's own checker accepts the units (with ExecStart pointing at this install)."""
    script = pathlib.Path(sys.executable).with_name("pipeline")
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/pipeline/bin/pipeline", str(script)))
        copies.append(str(copy))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *copies],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
