"""record_events validation: the shortcut for already typed traits changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pipeline.models import Event, Trait
from pipeline.storage.base import _checked_event

NOW = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))


def event(*traits: Trait) -> Event:
    return Event("m-1", "compute.instance.create.end", NOW, traits)


def test_typed_sorted_traits_come_back_as_the_same_event() -> None:
    given = event(
        Trait("a", Trait.TEXT_TYPE, "x"),
        Trait("b", Trait.INT_TYPE, 2**63 - 1),
        Trait("c", Trait.FLOAT_TYPE, 1.5),
        Trait("d", Trait.DATETIME_TYPE, NOW),
    )
    assert _checked_event(given) is given


def test_typed_traits_in_definition_order_come_back_sorted_by_name() -> None:
    checked = _checked_event(event(Trait("z", Trait.TEXT_TYPE, "1"), Trait("a", 2, 5)))
    assert checked.traits == (Trait("a", 2, 5), Trait("z", 1, "1"))


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (Trait.INT_TYPE, True, 1),
        (Trait.INT_TYPE, "7", 7),
        (Trait.INT_TYPE, 3.0, 3),
        (Trait.FLOAT_TYPE, 2, 2.0),
        (Trait.TEXT_TYPE, 5, "5"),
        (Trait.DATETIME_TYPE, dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        (Trait.DATETIME_TYPE, dt.datetime(2026, 1, 1, 1, tzinfo=PLUS_ONE),
         dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_values_not_of_their_exact_type_are_still_converted(
    dtype: int, value: Any, expected: Any
) -> None:
    (trait,) = _checked_event(event(Trait("t", dtype, value))).traits
    assert (trait.value, type(trait.value)) == (expected, type(expected))
    if isinstance(expected, dt.datetime):
        assert trait.value.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("traits", "problem"),
    [
        ((Trait("t", Trait.INT_TYPE, 2**63),), "64-bit"),
        ((Trait("t", Trait.INT_TYPE, -(2**63) - 1),), "64-bit"),
        ((Trait("t", Trait.FLOAT_TYPE, float("nan")),), "finite"),
        ((Trait("t", Trait.FLOAT_TYPE, float("-inf")),), "finite"),
        ((Trait("t", 1, "a"), Trait("t", 1, "b")), "appears twice"),
        ((Trait("t", 9, "a"),), "unknown trait type"),
    ],
)
def test_bad_traits_are_refused_whatever_their_type(
    traits: tuple[Trait, ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        _checked_event(event(*traits))


MIB4 = 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (Event("m\x00", "t", NOW), "message_id contains a NUL"),
        (Event("m", "t\ud800", NOW), "event_type contains U[+]D800, a lone surrogate"),
        (Event("m" * 256, "t", NOW), "message_id is longer than 255"),
        (Event("m", "t", NOW, (Trait("x" * 256, 2, 1),)), r"trait name 'x{40}'\.\.\. is longer"),
        (Event("m", "t", NOW, (Trait("a\udfff", 2, 1),)), "trait name 'a\\\\udfff' contains U[+]DFFF"),
        (Event("m", "t", NOW, (Trait("a", 1, "\x00"),)), "trait 'a' value contains a NUL"),
        (Event("m", "t", NOW, (Trait("a", 1, "x" * MIB4),)), f"is {MIB4 + 3} bytes of UTF-8"),
        (Event("m", "t", NOW, (Trait("a", 1, "é" * (MIB4 // 2)),)), f"is {MIB4 + 3} bytes"),
    ],
)
@pytest.mark.parametrize("converted", [True, False], ids=["shortcut", "conversion"])
def test_text_no_driver_stores_is_refused_on_both_paths(
    given: Event, problem: str, converted: bool
) -> None:
    """Typed, sorted traits (the converter's) take the shortcut; the rules hold there too."""
    if not converted:  # an int text value and an unsorted trait force the full conversion
        extra = (Trait("zz", Trait.TEXT_TYPE, 5),)
        given = Event(given.message_id, given.event_type, NOW, extra + given.traits)
        problem = problem.replace(str(MIB4 + 3), str(MIB4 + 6))
    with pytest.raises(ValueError, match=problem):
        _checked_event(given)


def test_text_right_at_the_limits_is_accepted() -> None:
    name = "\U0001f600" * 255
    assert _checked_event(Event(name, name, NOW, (Trait(name, 1, name),)))
    assert _checked_event(Event("m", "t", NOW, (Trait("a", 1, "x" * (MIB4 - 3)),)))
    assert _checked_event(Event("m", "t", NOW, (Trait("a", 1, "é" * (MIB4 // 2 - 2)),)))
