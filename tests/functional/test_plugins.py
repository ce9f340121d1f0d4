"""External plugin packages (tests/plugins/*) load by entry point and behave.

The event semantics of the ``jsonl`` storage driver are proven by the
storage scenario suite (it is in its DRIVERS list); these tests check what
only a plugin has: discovery through the installed package's entry point,
honest capabilities, and the files it keeps. The ``digest`` trait plugin
(pipeline-trait-example) is used from an event definitions file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pathlib
import re
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from pipeline import storage
from pipeline.convert import EventConverter, decode_notification
from pipeline.exceptions import DefinitionError, MissingCapability
from pipeline.models import UTC, Event, Trait
from pipeline.storage import Capability, EventFilter
from tests import servers


@pytest.fixture
def jsonl_url(tmp_path: pathlib.Path) -> str:
    """A fresh jsonl store; skips locally (fails in CI) without the plugin."""
    if "jsonl" not in storage.installed_drivers():
        servers.unavailable("plugin pipeline-jsonl", "pip install ./tests/plugins/*")
    return f"jsonl://{tmp_path}/store"


def _event(number: int) -> Event:
    return Event(
        f"m-{number}", "compute.instance.create.end",
        dt.datetime(2026, 11, 23, 10, number, tzinfo=UTC),
        (Trait("host", Trait.TEXT_TYPE, f"host-{number}"),
         Trait("launched_at", Trait.DATETIME_TYPE, dt.datetime(2026, 11, 23, 9, tzinfo=UTC))),
    )


def test_jsonl_driver_comes_from_the_external_package(jsonl_url: str) -> None:
    conn = storage.get_connection(jsonl_url)
    assert type(conn).__module__ == "pipeline_jsonl.driver"
    assert conn.capabilities == {Capability.EVENTS, Capability.EVENT_EXPIRY}


def test_requiring_tickets_from_jsonl_fails_at_start_up(jsonl_url: str) -> None:
    with pytest.raises(MissingCapability, match="'jsonl' lacks tickets"):
        storage.get_connection(jsonl_url, require=[Capability.TICKETS])


def test_events_survive_the_connection_and_are_visible_to_another_process(
    jsonl_url: str,
) -> None:
    conn = storage.get_connection(jsonl_url)
    conn.upgrade()
    assert conn.record_events([_event(1), _event(2)]).stored == ["m-1", "m-2"]
    conn.close()
    script = (
        "import sys; from pipeline import storage; "
        "conn = storage.get_connection(sys.argv[1]); "
        "print(conn.record_events(conn.get_events(None)).duplicates)"
    )
    out = subprocess.run([sys.executable, "-c", script, jsonl_url],
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == "['m-1', 'm-2']"
    again = storage.get_connection(jsonl_url)
    assert again.get_events(EventFilter()) == [_event(1), _event(2)]


def test_a_torn_line_is_skipped_and_the_next_write_starts_a_new_line(
    jsonl_url: str, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = storage.get_connection(jsonl_url)
    conn.record_events([_event(1)])
    events_file = tmp_path / "store" / "events.jsonl"
    with open(events_file, "a") as out:
        out.write('{"message_id": "m-torn", "event_ty')  # a write cut short
    assert conn.record_events([_event(2)]).stored == ["m-2"]
    assert [e.message_id for e in conn.get_events(None)] == ["m-1", "m-2"]
    assert f"{events_file}:2 skipped" in caplog.text


@pytest.fixture
def digest_plugin() -> None:
    """Skips locally (fails in CI) when pipeline-trait-example is not installed."""
    names = {ep.name for ep in entry_points(group="pipeline.trait_plugin")}
    if "digest" not in names:
        servers.unavailable("plugin pipeline-trait-example", "pip install ./tests/plugins/*")


def _definitions(tmp_path: pathlib.Path, parameters: str) -> pathlib.Path:
    path = tmp_path / "event_definitions.yaml"
    path.write_text(
        "- event_type: identity.authenticate\n"
        "  traits:\n"
        "    initiator_digest:\n"
        "      fields: payload.initiator.id\n"
        "      plugin:\n"
        "        name: digest\n"
        f"        parameters: {parameters}\n"
    )
    return path


def test_trait_plugin_from_an_external_package_is_used_by_a_definitions_file(
    digest_plugin: None, tmp_path: pathlib.Path
) -> None:
    converter = EventConverter.from_file(str(_definitions(tmp_path, "{salt: pepper, length: 16}")))
    event = converter.to_event(decode_notification({
        "message_id": "m-1", "event_type": "identity.authenticate", "priority": "INFO",
        "publisher_id": "identity.host-1", "timestamp": "2026-11-23 10:00:00.000000",
        "payload": {"initiator": {"id": "user-42"}},
    }))
    assert event is not None
    expected = hashlib.sha256(b"pepper\0user-42").hexdigest()[:16]
    assert event.trait("initiator_digest") == Trait("initiator_digest", Trait.TEXT_TYPE, expected)


def test_bad_trait_plugin_parameters_are_a_definition_error_with_its_place(
    digest_plugin: None, tmp_path: pathlib.Path
) -> None:
    path = _definitions(tmp_path, "{salt: pepper, length: 99}")
    with pytest.raises(DefinitionError, match=rf"{re.escape(str(path))}:\d+:\d+.*length"):
        EventConverter.from_file(str(path))
