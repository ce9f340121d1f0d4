"""``pipeline import panko mongodb://...``: what only Panko's MongoDB layout has.

MongoDB keeps times to the millisecond, so bounds finer than that must still
compare exactly; documents are schemaless, so one not shaped as Panko writes
it must be refused with a reason instead of stopping the import; and a URL
must name a database holding Panko's ``event`` collection. (The import of
databases Panko wrote itself is in ``test_panko_import.py`` and
``test_panko_resume.py``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
import pymongo
import pytest

from pipeline.cli import main
from pipeline.importers.events import NOTE_NULL
from pipeline.importers.panko_mongo import UNPAGED
from tests import servers
from tests.functional.importers.cli_run import config_file, run
from tests.functional.importers.test_panko_import import panko_view, stored_view
from tests.panko_venv import panko_read


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[str, str]]:
    """(configuration file, URL) of an empty SQLite target with its schema."""
    with servers.sqlite_database(str(tmp_path)) as url:
        path = config_file(tmp_path, url)
        assert run(capsys, path, "dbsync")[0] == 0
        yield path, url


def test_bounds_finer_than_a_millisecond_compare_exactly(
    panko_mongodb_url: str, config: tuple[str, str], conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """An event at t is after t - 1µs and before t + 1µs, though MongoDB holds
    neither bound: the one it would cut down (since) is rounded up."""
    everything = panko_view(panko_read(panko_mongodb_url))
    times = sorted(view[1] for view in everything.values())
    first, last = times[20], times[-20]
    micro = dt.timedelta(microseconds=1)
    argv = ["import", "panko", panko_mongodb_url, "--since", (first + micro).isoformat(),
            "--until", (last - micro).isoformat()]
    status, out = run(capsys, config[0], *argv)
    expected = {mid: v for mid, v in everything.items() if first < v[1] < last}
    assert status == 0, out
    assert len(expected) == len(everything) - 21 - 20  # times[:21] and times[-20:] out
    assert stored_view(config[1], conf) == expected


def _document(number: int, **changes: Any) -> dict[str, Any]:
    """A document as Panko's record_events writes it, with ``changes``."""
    document = {
        "_id": f"odd-{number:03d}",
        "event_type": "compute.instance.update",
        "timestamp": dt.datetime(2026, 3, 1, 12, 0, number),
        "traits": [{"trait_name": "host", "trait_type": 1, "trait_value": "compute-1"},
                   {"trait_name": "vcpus", "trait_type": 2, "trait_value": bson.Int64(4)}],
        "raw": {},
    }
    document.update(changes)
    return {key: value for key, value in document.items() if value is not _MISSING}


_MISSING = object()
#: Documents Panko never writes, and the reason each is refused for.
ODD = [
    (_document(1, _id=42), UNPAGED),
    (_document(2, _id=bson.ObjectId()), UNPAGED),
    (_document(3, event_type=_MISSING), "Panko event without an event type"),
    (_document(4, event_type=7), "event_type is int, not a string"),
    (_document(5, timestamp="2026-03-01"), "timestamp is str, not a date Python can hold"),
    (_document(6, timestamp=_MISSING), "Panko event without a generated time"),
    (_document(7, traits={"host": "x"}), "traits is dict, not a list"),
    (_document(8, traits=[["host", 1, "x"]]), "a trait is list without trait_name"),
    (_document(9, traits=[{"trait_name": "n", "trait_type": "int", "trait_value": 1}]),
     "trait 'n' has trait_type str, not a number"),
    (_document(10, raw=["not", "an", "object"]), "raw is list, not an object"),
    (_document(11, raw={"at": dt.datetime(2026, 1, 1)}),
     "raw is not JSON: Object of type datetime is not JSON serializable"),
    (_document(12, _id=""), "Panko event without a message_id"),
    (_document(13, traits=[{"trait_name": "n", "trait_type": 3, "trait_value": float("inf")}]),
     "trait 'n': inf is not a finite number"),
]
#: Documents pipeline stores although they differ from what Panko writes.
KEPT = [
    _document(20),
    _document(21, traits=[{"trait_name": "n", "trait_type": 2.0, "trait_value": 5},
                          {"trait_name": "gone", "trait_type": 1, "trait_value": None}]),
    _document(22, traits=_MISSING, raw=_MISSING),
]


def test_documents_not_shaped_as_panko_writes_them_are_refused_with_reasons(
    mongodb_server_url: str,
    config: tuple[str, str],
    conf: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Written with pymongo 4 directly: Panko's driver cannot write these shapes.
    The summary shows the 10 commonest reasons; the log names each event's."""
    with servers.mongodb_database(mongodb_server_url) as url:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        with client:
            client.get_default_database().event.insert_many(
                [document for document, _ in ODD] + KEPT
            )
        status, out = run(capsys, config[0], "import", "panko", url, "--batch-size", "4")
    assert status == 1, out
    assert f"events read: {len(ODD) + len(KEPT)}; stored: {len(KEPT)}; already there: 0; " \
        f"refused: {len(ODD)}\n" in out
    assert f"  refused 2: {UNPAGED}\n" in out
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for document, reason in ODD:
        if reason != UNPAGED:
            assert f"Panko event {document['_id']} refused: {reason}" in logged or \
                f"event {document['_id']} refused by storage: {reason}" in logged, reason
    assert f"{NOTE_NULL}: 1" in out
    stored = stored_view(config[1], conf)
    assert sorted(stored) == ["odd-020", "odd-021", "odd-022"]
    assert stored["odd-020"][2] == (("host", 1, "compute-1"), ("vcpus", 2, 4))
    assert stored["odd-021"][2] == (("n", 2, 5),)
    assert stored["odd-022"][2:] == ((), None)


def _refusal(capsys: pytest.CaptureFixture[str], config: str, url: str) -> tuple[int, str]:
    """Exit status and standard error of ``pipeline import panko URL``."""
    capsys.readouterr()
    status = main(["--config-file", config, "import", "panko", url])
    return status, capsys.readouterr().err


def test_a_url_without_panko_collection_or_database_is_refused(
    mongodb_server_url: str, config: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with servers.mongodb_database(mongodb_server_url) as url:
        status, err = _refusal(capsys, config[0], url)
    assert status == 2
    assert "has no Panko collection 'event' (found: none)" in err
    status, err = _refusal(capsys, config[0], mongodb_server_url.rstrip("/") + "/")
    assert status == 2
    assert "names no database" in err
