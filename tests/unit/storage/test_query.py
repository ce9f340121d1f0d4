"""EventFilter validation and the driver loader, independent of any database."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline import exceptions, storage
from pipeline.models import UTC, Trait
from pipeline.storage.query import EventFilter, build_event_query


def test_filter_is_normalised_and_not_mutated() -> None:
    traits = [{"key": "n", "integer": "5"}]
    event_filter = EventFilter(start_timestamp="2026-01-01T00:00:00", traits_filter=traits)
    query = build_event_query(event_filter, {"limit": 3, "sort": [("generated", "desc")]})
    assert traits == [{"key": "n", "integer": "5"}]
    assert query.start == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert query.traits[0].dtype == Trait.INT_TYPE and query.traits[0].value == 5
    assert query.traits[0].op == "eq"
    assert query.sort == (("generated", "desc"), ("message_id", "asc"))


@pytest.mark.parametrize(
    ("event_filter", "pagination", "message"),
    [
        (EventFilter(traits_filter=[{"key": "a", "string": "x", "op": "like"}]), None, "unknown operator"),
        (EventFilter(traits_filter=[{"key": "a"}]), None, "exactly one of"),
        (EventFilter(traits_filter=[{"key": "a", "string": "x", "integer": 1}]), None, "exactly one of"),
        (EventFilter(traits_filter=[{"key": "a", "integer": "x"}]), None, "not an integer"),
        (EventFilter(start_timestamp="noon"), None, "start_timestamp"),
        (None, {"sort": [("event_type", "asc")]}, "cannot sort"),
        (None, {"sort": [("generated", "up")]}, "direction"),
        (None, {"limit": 0}, "limit"),
    ],
)
def test_bad_queries_raise_invalid_query(event_filter: EventFilter | None, pagination: dict | None,
                                         message: str) -> None:
    with pytest.raises(exceptions.InvalidQuery, match=message):
        build_event_query(event_filter, pagination)


def test_unknown_scheme_lists_installed_drivers() -> None:
    with pytest.raises(exceptions.UnknownDriver, match="memory"):
        storage.get_connection("nosuchdb://x")


def test_dialect_suffix_is_ignored_for_driver_choice() -> None:
    assert storage.url_scheme("postgresql+psycopg://u@h/db") == "postgresql"
    assert storage.url_scheme("mongodb+srv://h/db") == "mongodb"


def test_missing_capability_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.storage import Capability, impl_memory

    class EventsOnly(impl_memory.Connection):
        capabilities = frozenset({Capability.EVENTS})

    monkeypatch.setattr(storage, "load_driver", lambda scheme: EventsOnly)
    with pytest.raises(exceptions.MissingCapability, match="lacks tickets"):
        storage.get_connection("memory://", require=[Capability.TICKETS])
    assert isinstance(storage.get_connection("memory://", require=[Capability.EVENTS]), EventsOnly)


def test_dress_url_masks_passwords() -> None:
    assert storage.dress_url("postgresql://u:secret@h:5432/db") == "postgresql://u:****@h:5432/db"
    assert storage.dress_url("mongodb://u:pw@a,b/db") == "mongodb://u:****@a,b/db"
    assert storage.dress_url("sqlite:///pipeline.sqlite") == "sqlite:///pipeline.sqlite"


@pytest.mark.parametrize("text", ["a\x00", "\ud800", "x\udfffy"])
@pytest.mark.parametrize(
    "make",
    [
        lambda text: EventFilter(event_type=text),
        lambda text: EventFilter(message_id=text),
        lambda text: EventFilter(admin_proj=text),
        lambda text: EventFilter(traits_filter=[{"key": text, "string": "v"}]),
        lambda text: EventFilter(traits_filter=[{"key": "k", "string": text}]),
    ],
)
def test_filter_text_no_driver_stores_is_an_invalid_query(make: object, text: str) -> None:
    with pytest.raises(exceptions.InvalidQuery, match="NUL|surrogate"):
        build_event_query(make(text))  # type: ignore[operator]


def test_filter_text_every_driver_stores_is_kept() -> None:
    query = build_event_query(EventFilter(event_type="\U0001f600é", traits_filter=[{"key": "k", "string": "ü"}]))
    assert query.event_type == "\U0001f600é" and query.traits[0].value == "ü"
