"""Trait typing and UTC handling of the models."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest

from pipeline.models import UTC, Event, Trait, parse_datetime, to_utc


@pytest.mark.parametrize(
    ("dtype", "raw", "expected"),
    [
        (Trait.INT_TYPE, "42", 42),
        (Trait.INT_TYPE, 0, 0),
        (Trait.INT_TYPE, 2**63 - 1, 2**63 - 1),
        (Trait.INT_TYPE, -(2**63), -(2**63)),
        (Trait.INT_TYPE, 3.0, 3),
        (Trait.FLOAT_TYPE, "1.5", 1.5),
        (Trait.FLOAT_TYPE, 0, 0.0),
        (Trait.TEXT_TYPE, 12, "12"),
        (Trait.TEXT_TYPE, "x" * 10_000, "x" * 10_000),
        (Trait.DATETIME_TYPE, "2026-11-23 10:00:00.123456",
         dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)),
        (Trait.DATETIME_TYPE, "2026-11-23T12:00:00+02:00", dt.datetime(2026, 11, 23, 10, tzinfo=UTC)),
        (Trait.DATETIME_TYPE, "2026-11-23T10:00:00Z", dt.datetime(2026, 11, 23, 10, tzinfo=UTC)),
    ],
)
def test_convert_value_keeps_type(dtype: int, raw: object, expected: object) -> None:
    converted = Trait.convert_value(dtype, raw)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("dtype", "raw"),
    [
        (Trait.INT_TYPE, "abc"),
        (Trait.INT_TYPE, 2**63),
        (Trait.INT_TYPE, 1.5),
        (Trait.INT_TYPE, None),
        (Trait.FLOAT_TYPE, "x"),
        (Trait.FLOAT_TYPE, None),
        (Trait.DATETIME_TYPE, "yesterday"),
        (Trait.DATETIME_TYPE, 5),
        (Trait.TEXT_TYPE, None),
        (99, "x"),
    ],
)
def test_convert_value_rejects_what_it_cannot_represent(dtype: int, raw: object) -> None:
    with pytest.raises(ValueError):
        Trait.convert_value(dtype, raw)


def test_type_names_follow_panko_and_definitions() -> None:
    assert Trait.get_type_names() == ["none", "string", "integer", "float", "datetime"]
    assert Trait.get_type_by_name("string") == Trait.get_type_by_name("text") == Trait.TEXT_TYPE
    assert Trait.get_type_by_name("int") == Trait.INT_TYPE
    assert Trait.get_type_by_name("bogus") is None
    assert Trait.get_name_by_type(Trait.DATETIME_TYPE) == "datetime"


def test_naive_is_utc_and_aware_is_converted() -> None:
    naive = dt.datetime(2026, 1, 1, 12)
    assert to_utc(naive) == dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    plus2 = dt.datetime(2026, 1, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert to_utc(plus2).hour == 12 and to_utc(plus2).tzinfo is UTC
    assert Event("m", "t", naive).generated.tzinfo is UTC
    assert parse_datetime("2026-01-01T12:00:00").tzinfo is UTC


def test_events_and_traits_are_built_as_frozen_dataclasses_would_be() -> None:
    """Their constructors set the slots directly (speed); nothing else may differ."""
    plus2 = dt.timezone(dt.timedelta(hours=2))
    event = Event(
        message_id="m", event_type="t", generated=dt.datetime(2026, 1, 1, 14, tzinfo=plus2),
        traits=[Trait("a", Trait.INT_TYPE, 1), Trait(name="b", dtype=Trait.TEXT_TYPE, value="x")],
    )
    assert event.generated == dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert event.generated.tzinfo is UTC
    assert event.traits == (Trait("a", 2, 1), Trait("b", 1, "x")) and event.raw is None
    assert repr(event.traits[0]) == "Trait(name='a', dtype=2, value=1)"
    assert hash(Trait("a", 2, 1)) == hash(Trait("a", 2, 1))
    assert pickle.loads(pickle.dumps(event)) == event
    assert dataclasses.replace(event, raw={"k": 1}).raw == {"k": 1}
    assert dataclasses.astuple(event.traits[1]) == ("b", 1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.traits[0].value = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.raw = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        Trait("a", 1)  # type: ignore[call-arg]
