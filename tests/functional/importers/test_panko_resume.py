"""An import killed halfway (``kill -9``) and run again ends complete and exact,
from Panko's SQLAlchemy layout (SQLite) and from its MongoDB layout."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.functional.importers.cli_run import config_file, run
from tests.functional.importers.test_panko_import import panko_view, stored_view
from tests.panko_venv import ROOT, panko_read


@pytest.fixture(params=["sqlite", "mongodb"])
def source(request: pytest.FixtureRequest) -> str:
    """The URL of a Panko database written by Panko: an SQLite file, or MongoDB."""
    if request.param == "mongodb":
        return str(request.getfixturevalue("panko_mongodb_url"))
    return f"sqlite:///{request.getfixturevalue('panko_sqlite_file')}"


def _stored(path: str) -> int:
    with sqlite3.connect(path) as db:  # WAL: reading beside the writer is fine
        return int(db.execute("SELECT count(*) FROM event").fetchone()[0])


def _started(config: str, source: str, stdout: int) -> subprocess.Popen[str]:
    """The import in a process of its own, in batches of 2 into an SQLite file: one
    commit (and fsync) each, slow enough to be stopped in the middle."""
    argv = [sys.executable, "-m", "pipeline.cli", "--config-file", config,
            "import", "panko", source, "--batch-size", "2"]
    return subprocess.Popen(argv, cwd=ROOT, stdout=stdout, stderr=subprocess.DEVNULL, text=True)


def _wait_for_a_fifth(importer: subprocess.Popen[str], path: str, total: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and importer.poll() is None:
        if os.path.exists(path) and _stored(path) >= total // 5:
            return
        time.sleep(0.01)


def test_killed_import_run_again_is_complete_and_exact(
    source: str, tmp_path: Path, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = panko_view(panko_read(source))
    with servers.sqlite_database(str(tmp_path)) as target:
        config = config_file(tmp_path, target)
        assert run(capsys, config, "dbsync")[0] == 0
        importer = _started(config, source, subprocess.DEVNULL)
        path = target.removeprefix("sqlite:///")
        _wait_for_a_fifth(importer, path, len(expected))
        os.kill(importer.pid, signal.SIGKILL)
        importer.wait()
        at_kill = _stored(path)
        assert 0 < at_kill < len(expected), "the import was not interrupted halfway"

        status, out = run(capsys, config, "import", "panko", source)
        assert status == 0
        rest = len(expected) - at_kill
        assert (
            f"events read: {len(expected):,}; stored: {rest:,}; already there: {at_kill:,}; "
            "refused: 0" in out
        )
        assert stored_view(target, conf) == expected


def _after(expected: dict[str, Any], source: str, after_id: str) -> int:
    """How many events lie after Panko id ``after_id`` in the reading order."""
    if source.startswith("mongodb"):  # by _id, the message id
        return sum(1 for message_id in expected if message_id > after_id)
    return len(expected) - int(after_id)  # Panko's ids here are 1..N


def test_ctrl_c_prints_the_summary_and_where_to_go_on(
    source: str, tmp_path: Path, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = panko_view(panko_read(source))
    with servers.sqlite_database(str(tmp_path)) as target:
        config = config_file(tmp_path, target)
        assert run(capsys, config, "dbsync")[0] == 0
        importer = _started(config, source, subprocess.PIPE)
        path = target.removeprefix("sqlite:///")
        _wait_for_a_fifth(importer, path, len(expected))
        importer.send_signal(signal.SIGINT)
        out, _ = importer.communicate(timeout=60)
        assert importer.returncode == 130
        at_stop = _stored(path)
        assert 0 < at_stop < len(expected)
        assert "interrupted: KeyboardInterrupt: events up to Panko id " in out
        after_id = shlex.split(out.split("--after-id ", 1)[1])[0]

        status, again = run(capsys, config, "import", "panko", source, "--after-id", after_id)
        assert status == 0
        read = int(again.split("events read: ")[1].split(";")[0].replace(",", ""))
        assert read == _after(expected, source, after_id)
        assert stored_view(target, conf) == expected
