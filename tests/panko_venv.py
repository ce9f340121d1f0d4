"""Panko 10.0.0's own code, run in its separate virtualenv, for the importer tests.

The virtualenv is ``$PIPELINE_PANKO_VENV`` (``.ci/run`` builds it before the
tests and exports it), else ``.venv-panko`` in the checkout, built here on
first use with ``tests/fixtures/build-panko-venv.sh`` (about a minute and a
half, once). Under ``CI=true`` a missing one fails the tests instead.
:func:`panko_write` and :func:`panko_read` run ``tests/panko_tool.py`` in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tests.servers import in_ci, unavailable

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("PIPELINE_PANKO_VENV") or ROOT / ".venv-panko")
BUILD = ROOT / "tests" / "fixtures" / "build-panko-venv.sh"
TOOL = ROOT / "tests" / "panko_tool.py"


#: Every Panko driver the tests use imports (the same check as build-panko-venv.sh).
CHECK = (
    "import panko.storage.impl_sqlalchemy, panko.storage.impl_mongodb, psycopg2, pymysql, pymongo\n"
    "assert pymongo.version_tuple[0] == 3, pymongo.version"
)


def _usable(python: Path) -> bool:
    check = CHECK
    return python.exists() and subprocess.run([python, "-c", check], check=False, capture_output=True).returncode == 0


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One builder at a time (pytest -n runs several workers)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def panko_python() -> str:
    """The Panko virtualenv's interpreter; built if missing (not under CI)."""
    python = VENV / "bin" / "python"
    if _usable(python):
        return str(python)
    if in_ci():
        unavailable("Panko 10 virtualenv", f"{VENV} is missing or broken (.ci/run builds it)")
    with _locked():
        if not _usable(python):
            built = subprocess.run(
                ["bash", BUILD, VENV], check=False, capture_output=True, text=True
            )
            if built.returncode or not _usable(python):
                unavailable("Panko 10 virtualenv", f"building {VENV} failed: {built.stderr[-2000:]}")
    return str(python)


def panko_url(url: str) -> str:
    """``url`` as Panko's SQLAlchemy 1.3 takes it (psycopg2 for PostgreSQL)."""
    return url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)


def _run(command: str, url: str, stdin: str = "") -> str:
    done = subprocess.run(
        [panko_python(), TOOL, command, panko_url(url)],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode:
        raise AssertionError(f"panko_tool {command} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def panko_write(url: str, events: Iterable[dict[str, Any]]) -> None:
    """Store ``events`` (panko_tool's JSON shape) at ``url`` with Panko's record_events."""
    _run("write", url, "".join(json.dumps(event) + "\n" for event in events))


def panko_read(url: str) -> list[dict[str, Any]]:
    """Every event Panko's own get_events returns from ``url``."""
    return [json.loads(line) for line in _run("read", url).splitlines() if line.strip()]
