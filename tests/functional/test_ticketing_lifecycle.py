"""What a ``TicketingHandler`` leaves behind: after a failed start, and after it is gone.

``logging`` keeps every handler ever constructed and closes them all at
interpreter exit, and logbook closes a handler when it is collected. A
handler whose construction failed must therefore leave nothing behind, and
its backend (``handler.db``) must outlive the handler on every driver.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import pipeline
from pipeline.exceptions import StorageError
from pipeline.ticketing import BackendBase, MongoDBBackend, TicketingHandler
from tests import servers

#: Builds a handler on an unreachable database, keeps the error (and so the
#: half-built handler, through its traceback) alive until exit, exits 0.
FAILED_START = """
import sys
from pipeline.exceptions import StorageError
from pipeline.ticketing import TicketingHandler
try:
    TicketingHandler(sys.argv[1])
except StorageError as err:
    kept = err
    print("refused:", type(err).__name__)
else:
    sys.exit("the handler was built on an unreachable database")
"""


def _unreachable_urls(tmp_path: Path) -> dict[str, str]:
    port = servers.free_port()  # nothing listens there: the connection is refused
    return {
        "postgresql": f"postgresql://postgres@127.0.0.1:{port}/nowhere",
        "mysql": f"mysql://root@127.0.0.1:{port}/nowhere",
        "mongodb": f"mongodb://127.0.0.1:{port}/nowhere?serverSelectionTimeoutMS=300",
        "sqlite": f"sqlite:///{tmp_path}/missing-directory/t.db",
    }


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "mongodb", "sqlite"])
def test_a_handler_that_failed_to_start_leaves_no_error_at_exit(
    kind: str, tmp_path: Path
) -> None:
    """The process ends quietly: logging.shutdown() finds no half-built handler to close."""
    url = _unreachable_urls(tmp_path)[kind]
    root = str(Path(pipeline.__file__).resolve().parents[1])  # the pipeline under test
    done = subprocess.run(
        [sys.executable, "-c", FAILED_START, url],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: Storage"), done.stdout
    assert done.stderr == ""


class _Remembered(TicketingHandler):
    """Keeps every instance, half-built ones too."""

    instances: ClassVar[list[TicketingHandler]] = []

    def set_backend(self, cls: type[BackendBase], **options: object) -> None:
        self.instances.append(self)
        super().set_backend(cls, **options)


def test_close_is_harmless_twice_and_after_a_failed_start(tmp_path: Path) -> None:
    handler = _Remembered(f"sqlite:///{tmp_path}/t.db")
    handler.close()
    handler.close()
    with pytest.raises(StorageError):
        _Remembered(_unreachable_urls(tmp_path)["sqlite"])
    half_built = _Remembered.instances[-1]
    assert half_built is not handler
    half_built.close()
    half_built.close()


@contextlib.contextmanager
def _no_handler_left(name: str) -> Iterator[logging.Logger]:
    logger = logging.getLogger(name)
    logger.propagate = False
    try:
        yield logger
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


def test_mongodb_backend_outlives_its_handler(mongodb_server_url: str) -> None:
    """``db = TicketingHandler(url).db`` stays usable once the handler is collected."""
    with servers.mongodb_database(mongodb_server_url) as url, _no_handler_left("life") as logger:
        handler = TicketingHandler(url, app_id="life")
        logger.addHandler(handler)
        logger.error("before the handler goes")
        assert handler.flush()
        logger.removeHandler(handler)
        db = handler.db
        del handler
        gc.collect()
        assert isinstance(db, MongoDBBackend)
        assert db.count_tickets() == 1
        assert [t.occurrence_count for t in db.get_tickets()] == [1]
        db.close()


def test_a_collected_mongodb_backend_closes_its_client(mongodb_server_url: str) -> None:
    """The backend owns its client: collecting the backend closes it."""
    import pymongo.errors

    with servers.mongodb_database(mongodb_server_url) as url:
        db = MongoDBBackend(uri=url)
        client = db.connection._client  # type: ignore[attr-defined]
        del db
        gc.collect()
        with pytest.raises(pymongo.errors.InvalidOperation, match="after close"):
            client.admin.command("ping")
