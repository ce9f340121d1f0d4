"""``pipeline import panko`` against databases written by Panko 10.0.0 itself.

The sources are Panko's SQLAlchemy layout (SQLite, PostgreSQL, and MariaDB
below) and its MongoDB layout, each written by Panko's own driver. Every
imported event, read back through pipeline, equals what Panko's own
``get_events`` returns (typed as Panko stored the values: Panko's API
made every value text; MongoDB kept times to the millisecond). Where Panko had already lost information — text
traits cut at 255 characters, the raw notification it did not keep (``{}``)
— the import keeps what Panko kept, and says how many texts reached 255.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline import storage
from pipeline.importers.events import NOTE_AT_LIMIT
from pipeline.models import UTC, parse_datetime
from tests import servers
from tests.functional.importers.cli_run import config_file, run
from tests.functional.importers.conftest import PankoSource
from tests.panko_venv import panko_write

EventView = tuple[str, dt.datetime, tuple[tuple[str, int, Any], ...], Any]


def panko_view(items: list[dict[str, Any]]) -> dict[str, EventView]:
    """Panko's get_events output as pipeline returns events: aware UTC, traits by name."""
    view = {}
    for item in items:
        traits = tuple(
            sorted(
                (name, dtype, parse_datetime(value) if dtype == 4 else value)
                for name, dtype, value in item["traits"]
            )
        )
        generated = dt.datetime.fromisoformat(item["generated"]).replace(tzinfo=UTC)
        view[item["message_id"]] = (item["event_type"], generated, traits, item["raw"] or None)
    return view


def stored_view(url: str, conf: Any) -> dict[str, EventView]:
    """Every event stored at ``url``, read back through pipeline's driver."""
    conn = storage.get_connection(url, conf)
    try:
        events = conn.get_events(None)
    finally:
        conn.close()
    view = {}
    for event in events:
        traits = tuple((t.name, t.dtype, t.value) for t in event.traits)
        view[event.message_id] = (event.event_type, event.generated, traits, event.raw)
    return view


@pytest.fixture
def config(tmp_path: Path, target_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A configuration naming the target database, its schema created."""
    path = config_file(tmp_path, target_url)
    assert run(capsys, path, "dbsync")[0] == 0
    return path


def test_imported_events_equal_pankos_own_get_events(
    panko_source: PankoSource,
    target_url: str,
    config: str,
    conf: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, panko_corpus, panko_events = panko_source
    status, out = run(capsys, config, "import", "panko", url)
    expected = panko_view(panko_events)
    assert status == 0, out
    assert len(expected) == len(panko_corpus)
    assert len({view[0] for view in expected.values()}) >= 14  # many event types
    assert stored_view(target_url, conf) == expected
    assert f"events read: {len(expected):,}; stored: {len(expected):,}; already there: 0;" in out
    at_limit = sum(1 for e in panko_events for _, dtype, v in e["traits"] if dtype == 1 and len(v) == 255)
    assert f"{NOTE_AT_LIMIT}: {at_limit:,}" in out
    # What Panko lost before the import: texts longer than 255 were cut there.
    given = {e["message_id"]: {n: v for n, _, v in e["traits"]} for e in panko_corpus}
    cut = [
        (given[e["message_id"]][name], value)
        for e in panko_events
        for name, dtype, value in e["traits"]
        if dtype == 1 and len(given[e["message_id"]][name]) > 255
    ]
    assert cut and all(value == original[:255] for original, value in cut)


def test_importing_twice_stores_each_event_once(
    panko_source: PankoSource,
    target_url: str,
    config: str,
    conf: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _, panko_events = panko_source
    assert run(capsys, config, "import", "panko", url)[0] == 0
    status, out = run(capsys, config, "import", "panko", url, "--batch-size", "77")
    count = len(panko_events)
    assert status == 0
    assert f"events read: {count:,}; stored: 0; already there: {count:,}; refused: 0" in out
    assert stored_view(target_url, conf) == panko_view(panko_events)


def test_since_until_and_event_type_narrow_the_import(
    panko_source: PankoSource,
    target_url: str,
    config: str,
    conf: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _, panko_events = panko_source
    everything = panko_view(panko_events)
    times = sorted(view[1] for view in everything.values())
    # Inclusive both: events exactly at them count.
    since, until = times[len(times) // 6], times[len(times) * 2 // 3]
    kinds = ["image.upload", "volume.create.end"]
    argv = ["import", "panko", url, "--since", since.isoformat(), "--until",
            until.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()]
    for kind in kinds:
        argv += ["--event-type", kind]
    status, out = run(capsys, config, *argv)
    expected = {
        mid: view for mid, view in everything.items()
        if since <= view[1] <= until and view[0] in kinds
    }
    assert status == 0 and expected
    assert stored_view(target_url, conf) == expected
    assert f"events read: {len(expected):,}; stored: {len(expected):,};" in out


def test_panko_on_mariadb_decimal_timestamps_come_back_exact(
    panko_corpus: list[dict[str, Any]], tmp_path: Path, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Panko kept MySQL timestamps as DECIMAL(20,6) seconds. Its own get_events fails on
    MariaDB (``CAST(NULL AS FLOAT(53))`` is a syntax error there), so the import is
    compared with what Panko was given, shaped as Panko's Trait.convert_value shapes it."""
    # Panko's MySQL tables are utf8 (three bytes): it cannot store the emoji texts.
    given = [e for e in panko_corpus[:120] if "\U0001f600" not in json.dumps(e, ensure_ascii=False)]
    with servers.mysql_database() as source, servers.sqlite_database(str(tmp_path)) as target:
        panko_write(source, given)
        config = config_file(tmp_path, target)
        assert run(capsys, config, "dbsync")[0] == 0
        status, out = run(capsys, config, "import", "panko", source)
        assert status == 0, out
        shaped = [
            {**e, "traits": [[n, d, v[:255] if d == 1 else v] for n, d, v in e["traits"]]}
            for e in given
        ]
        assert stored_view(target, conf) == panko_view(shaped)
