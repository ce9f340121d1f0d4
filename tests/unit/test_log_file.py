"""Logging: stderr by default (journald under systemd), a file with --log-file or log_file."""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Iterator

import pytest

from pipeline import cli
from pipeline.exceptions import ConfigError
from pipeline.service import setup_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    """Leave the root logger as the test found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_log_file_option_sends_log_lines_to_the_file(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "pipeline.log"
    conf = tmp_path / "pipeline.conf"
    conf.write_text(f"[DEFAULT]\nlog_file = {log}\n[database]\nconnection = memory://\n")
    assert cli.main(["--debug", "--config-file", str(conf), "dbsync"]) == 0
    assert " DEBUG " in log.read_text()


def test_command_line_log_file_overrides_the_config_file(tmp_path: pathlib.Path) -> None:
    conf = tmp_path / "pipeline.conf"
    conf.write_text(f"[DEFAULT]\nlog_file = {tmp_path / 'ignored.log'}\n"
                    "[database]\nconnection = memory://\n")
    chosen = tmp_path / "chosen.log"
    assert cli.main(["--debug", "--log-file", str(chosen), "--config-file", str(conf),
                     "dbsync"]) == 0
    assert chosen.read_text() and not (tmp_path / "ignored.log").exists()


def test_a_moved_log_file_is_reopened(tmp_path: pathlib.Path) -> None:
    """External rotation works: after a move, lines go to a new file at the path."""
    log = tmp_path / "pipeline.log"
    setup_logging(log_file=str(log))
    logging.getLogger("pipeline.test").info("before rotation")
    log.rename(tmp_path / "pipeline.log.1")
    logging.getLogger("pipeline.test").info("after rotation")
    assert "after rotation" in log.read_text()
    assert "before rotation" in (tmp_path / "pipeline.log.1").read_text()


def test_an_unwritable_log_file_is_a_configuration_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="log_file"):
        setup_logging(log_file=str(tmp_path / "missing-dir" / "x.log"))
