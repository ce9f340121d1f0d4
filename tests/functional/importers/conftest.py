"""Fixtures of the importer tests: Panko databases written by Panko itself, targets.

The Panko databases are written once per test session (Panko stores one
event per transaction, ~100 events/s here) and only read by the tests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.functional.importers.panko_corpus import panko_events
from tests.panko_venv import panko_read, panko_write

#: Events in the session's Panko databases.
CORPUS_SIZE = 600


@pytest.fixture(scope="session")
def panko_corpus() -> list[dict[str, Any]]:
    """The events written into the session's Panko databases (as given to Panko)."""
    return panko_events(CORPUS_SIZE)


@pytest.fixture(scope="session")
def panko_sqlite_file(panko_corpus: list[dict[str, Any]]) -> Iterator[Path]:
    """A Panko SQLite file holding the corpus (written on tmpfs when there is one: no fsync)."""
    fast = "/dev/shm" if Path("/dev/shm").is_dir() else None
    directory = Path(tempfile.mkdtemp(prefix="panko-", dir=fast))
    path = directory / "panko.db"
    panko_write(f"sqlite:///{path}", panko_corpus)
    yield path
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def panko_postgresql_url(panko_corpus: list[dict[str, Any]]) -> Iterator[str]:
    """A Panko PostgreSQL database holding the corpus."""
    with servers.postgresql_database() as url:
        panko_write(url, panko_corpus)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def panko_source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(URL, what Panko's own get_events returns) of a Panko database of the corpus."""
    if request.param == "sqlite":
        path = tmp_path / "panko.db"
        shutil.copy(request.getfixturevalue("panko_sqlite_file"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("panko_postgresql_url")
    return url, panko_read(url)


@pytest.fixture
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty pipeline database: PostgreSQL for an SQLite source, SQLite otherwise."""
    source = request.getfixturevalue("panko_source")[0]
    if source.startswith("sqlite"):
        with servers.postgresql_database() as url:
            yield url
    else:
        with servers.sqlite_database(str(tmp_path)) as url:
            yield url
