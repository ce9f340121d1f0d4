"""The MongoDB driver without a server: loading it, and a missing pymongo."""

from __future__ import annotations

import subprocess
import sys

from pipeline import storage

_WITHOUT_PYMONGO = """
import sys
sys.modules["pymongo"] = None  # makes `import pymongo` fail, as when it is not installed
from pipeline import storage
from pipeline.exceptions import MissingExtra
try:
    storage.get_connection("mongodb://127.0.0.1:1/db")
except MissingExtra as err:
    print(err.package, err.extra, err)
"""


def test_missing_pymongo_names_the_extra() -> None:
    """Without pymongo, loading the driver to connect says which extra to install.

    Run in a fresh interpreter so that no module of this session is reloaded.
    """
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYMONGO],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pymongo mongodb ")
    assert "pip install 'pipeline[mongodb]'" in done.stdout


def test_srv_urls_pick_the_mongodb_driver() -> None:
    assert storage.url_scheme("mongodb+srv://u:p@cluster.example.org/db") == "mongodb"
    loaded = storage.load_driver("mongodb")
    assert loaded.__module__ == "pipeline.storage.impl_mongodb"
    assert storage.Capability.TICKET_EXPIRY in loaded.capabilities
