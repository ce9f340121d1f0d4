"""An import killed halfway (``kill -9``) and run again ends complete and exact."""

from __future__ import annotations

import os
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


def _stored(path: str) -> int:
    with sqlite3.connect(path) as db:  # WAL: reading beside the writer is fine
        return int(db.execute("SELECT count(*) FROM event").fetchone()[0])


def test_killed_import_run_again_is_complete_and_exact(
    panko_sqlite_file: Path, tmp_path: Path, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{panko_sqlite_file}"
    expected = panko_view(panko_read(source))
    with servers.sqlite_database(str(tmp_path)) as target:
        config = config_file(tmp_path, target)
        assert run(capsys, config, "dbsync")[0] == 0
        # Small batches into an SQLite file: one commit (and fsync) each, slow
        # enough to be killed in the middle.
        argv = [sys.executable, "-m", "pipeline.cli", "--config-file", config,
                "import", "panko", source, "--batch-size", "2"]
        importer = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        path = target.removeprefix("sqlite:///")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and importer.poll() is None:
            if os.path.exists(path) and _stored(path) >= len(expected) // 5:
                break
            time.sleep(0.01)
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


def test_ctrl_c_prints_the_summary_and_where_to_go_on(
    panko_sqlite_file: Path, tmp_path: Path, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{panko_sqlite_file}"
    expected = panko_view(panko_read(source))
    with servers.sqlite_database(str(tmp_path)) as target:
        config = config_file(tmp_path, target)
        assert run(capsys, config, "dbsync")[0] == 0
        argv = [sys.executable, "-m", "pipeline.cli", "--config-file", config,
                "import", "panko", source, "--batch-size", "2"]
        importer = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
        path = target.removeprefix("sqlite:///")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and importer.poll() is None:
            if os.path.exists(path) and _stored(path) >= len(expected) // 5:
                break
            time.sleep(0.01)
        importer.send_signal(signal.SIGINT)
        out, _ = importer.communicate(timeout=60)
        assert importer.returncode == 130
        at_stop = _stored(path)
        assert 0 < at_stop < len(expected)
        assert "interrupted: KeyboardInterrupt: events up to Panko id " in out
        after_id = out.split("--after-id ")[1].split(" ")[0]

        status, again = run(capsys, config, "import", "panko", source, "--after-id", after_id)
        assert status == 0
        read = int(again.split("events read: ")[1].split(";")[0].replace(",", ""))
        assert read == len(expected) - int(after_id)  # Panko's ids here are 1..N
        assert stored_view(target, conf) == expected
