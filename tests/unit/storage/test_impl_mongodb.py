"""The MongoDB driver without a server: loading it, and a missing pymongo."""

from __future__ import annotations

import importlib
import sys

import pytest

from pipeline import storage
from pipeline.exceptions import MissingExtra


def test_missing_pymongo_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry point still loads; connecting says which extra to install."""
    monkeypatch.setitem(sys.modules, "pymongo", None)  # makes `import pymongo` fail
    module = importlib.reload(importlib.import_module("pipeline.storage.impl_mongodb"))
    assert module.Connection.capabilities  # the class is usable without pymongo
    with pytest.raises(MissingExtra, match=r"pip install 'pipeline\[mongodb\]'") as info:
        storage.get_connection("mongodb://127.0.0.1:1/db")
    assert (info.value.package, info.value.extra) == ("pymongo", "mongodb")


def test_srv_urls_pick_the_mongodb_driver() -> None:
    assert storage.url_scheme("mongodb+srv://u:p@cluster.example.org/db") == "mongodb"
    loaded = storage._load_driver_class("mongodb")
    assert loaded.__module__ == "pipeline.storage.impl_mongodb"
    assert storage.Capability.TICKET_EXPIRY in loaded.capabilities
