"""Fixtures of the importer tests: Panko databases written by Panko itself, targets.

The Panko databases are written once per test session (Panko stores one
event per transaction, ~100 events/s here) and only read by the tests. The
MongoDB one, on the session's MongoDB-protocol server (SecantusDB, slow on
writes), holds a smaller corpus of the same kind; Panko's own MongoDB driver
writes it (through pymongo 3, in the Panko virtualenv).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests import servers
from tests.functional.importers.panko_corpus import panko_events
from tests.panko_venv import panko_read, panko_write

#: Events in the session's Panko databases.
CORPUS_SIZE = 600
#: Events in the session's Panko MongoDB database.
MONGO_CORPUS_SIZE = 200


class PankoSource(NamedTuple):
    """A Panko database of a corpus."""

    url: str
    #: The events as given to Panko's record_events.
    given: list[dict[str, Any]]
    #: What Panko's own get_events returns from it.
    stored: list[dict[str, Any]]


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


@pytest.fixture(scope="session")
def panko_mongo_corpus() -> list[dict[str, Any]]:
    """The events written into the session's Panko MongoDB database."""
    return panko_events(MONGO_CORPUS_SIZE)


@pytest.fixture(scope="session")
def panko_mongodb_url(mongodb_server_url: str, panko_mongo_corpus: list[dict[str, Any]]) -> Iterator[str]:
    """A Panko MongoDB database holding the MongoDB corpus, written by Panko's driver."""
    with servers.mongodb_database(mongodb_server_url) as url:
        panko_write(url, panko_mongo_corpus)
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "mongodb"])
def panko_source(request: pytest.FixtureRequest, tmp_path: Path) -> PankoSource:
    """A Panko database (SQLite, PostgreSQL, MongoDB layout) written by Panko 10 itself."""
    if request.param == "mongodb":
        url = request.getfixturevalue("panko_mongodb_url")
        return PankoSource(url, request.getfixturevalue("panko_mongo_corpus"), panko_read(url))
    if request.param == "sqlite":
        path = tmp_path / "panko.db"
        shutil.copy(request.getfixturevalue("panko_sqlite_file"), path)
        url = f"sqlite:///{path}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("panko_postgresql_url")
    return PankoSource(url, request.getfixturevalue("panko_corpus"), panko_read(url))


@pytest.fixture
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty pipeline database: PostgreSQL for an SQLite source, MongoDB for a
    MongoDB one (Panko on MongoDB moved to pipeline on MongoDB), SQLite otherwise."""
    source = request.getfixturevalue("panko_source").url
    if source.startswith("sqlite"):
        with servers.postgresql_database() as url:
            yield url
    elif source.startswith("mongodb"):
        with servers.mongodb_database(request.getfixturevalue("mongodb_server_url")) as url:
            yield url
    else:
        with servers.sqlite_database(str(tmp_path)) as url:
            yield url
