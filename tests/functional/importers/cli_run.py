"""Running ``pipeline`` commands against a target database, in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main


def config_file(directory: Path, url: str) -> str:
    """A configuration file whose ``[database] connection`` is ``url``."""
    path = directory / "pipeline.conf"
    path.write_text(f"[database]\nconnection = {url}\n")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], config: str, *argv: str) -> tuple[int, str]:
    """Exit status and standard output of ``pipeline --config-file config argv...``."""
    capsys.readouterr()
    status = main(["--config-file", config, *argv])
    return status, capsys.readouterr().out
