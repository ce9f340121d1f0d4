"""Panko's MongoDB documents into PankoEvents, its query, and the resume hint (pure)."""

from __future__ import annotations

import datetime as dt

import bson

from pipeline.importers.events import resume_hint, to_event
from pipeline.importers.panko import PankoFilter
from pipeline.importers.panko_mongo import is_mongodb_url, panko_event, selection
from pipeline.importers.summary import ImportSummary
from pipeline.models import UTC

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_panko_document_becomes_a_typed_event_with_plain_ints() -> None:
    document = {
        "_id": "m-1",
        "event_type": "image.upload",
        "timestamp": T0,
        "traits": [{"trait_name": "size", "trait_type": 2, "trait_value": bson.Int64(5)},
                   {"trait_name": "at", "trait_type": 4, "trait_value": T0}],
        "raw": {"payload": {"n": bson.Int64(1)}},
    }
    item = panko_event(document)
    assert item.problem is None and item.panko_id == item.message_id == "m-1"
    assert item.traits == [("size", 2, 5), ("at", 4, T0)]
    assert type(item.traits[0][2]) is int
    event = to_event(item, ImportSummary("events"))
    assert event.raw == {"payload": {"n": 1}} and event.generated == T0


def test_a_date_beyond_pythons_years_refuses_that_event_alone() -> None:
    """pymongo hands such a date over as DatetimeMS (DATETIME_AUTO), not a datetime."""
    item = panko_event({"_id": "m-2", "event_type": "x", "timestamp": bson.DatetimeMS(2**62)})
    assert item.problem == "timestamp is DatetimeMS, not a date Python can hold"


def test_the_query_rounds_since_up_to_the_millisecond_bson_keeps() -> None:
    query = selection(PankoFilter(T0.replace(microsecond=1), T0, ("a", "b")))
    assert query == {
        "timestamp": {"$gte": T0.replace(microsecond=1000), "$lte": T0},
        "event_type": {"$in": ["a", "b"]},
    }
    assert selection(PankoFilter(T0.replace(microsecond=2000)))["timestamp"]["$gte"] == T0.replace(
        microsecond=2000
    )
    assert selection(PankoFilter()) == {}


def test_theresume_hint_quotes_an_id_for_the_shell() -> None:
    assert "--after-id 41 skips" in resume_hint(41)
    assert "--after-id 'msg 1'\"'\"'x' skips" in resume_hint("msg 1'x")
    assert resume_hint(None).startswith("nothing stored yet")


def test_mongodb_urls_are_told_by_their_scheme() -> None:
    assert is_mongodb_url("mongodb://h/panko") and is_mongodb_url("MONGODB+SRV://h/panko")
    assert not is_mongodb_url("mysql+pymysql://h/panko") and not is_mongodb_url("sqlite:///x")
