"""Datetime comparisons agree with Python's on every driver, whole seconds included.

Notifications are full of whole-second times (``created_at``,
``launched_at``). A driver that stores ``07:00:00`` in one text form and
binds ``07:00:00.000000`` in another compares them wrongly: ``eq`` finds
nothing and the order operators miscount. Each case here is checked
against the answer Python computes from the same instants, with values and
probes given as aware UTC, aware in other offsets, naive (meaning UTC) and
ISO text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pipeline.models import UTC, Event, Trait
from pipeline.storage import Connection, EventFilter
from pipeline.storage.query import OPERATORS

BASE = dt.datetime(2024, 3, 1, 7, 0, 0, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)
MICRO = dt.timedelta(microseconds=1)
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
PDT = dt.timezone(dt.timedelta(hours=-7))

#: message id -> (trait value, generated), both as the producer sent them:
#: whole seconds and microseconds, aware in several offsets and naive.
STORED: dict[str, tuple[dt.datetime, dt.datetime]] = {
    "utc-whole": (BASE, BASE),
    "naive-whole": (BASE.replace(tzinfo=None), (BASE + SECOND).replace(tzinfo=None)),
    "pdt-whole": (BASE.astimezone(PDT), (BASE - SECOND).astimezone(PDT)),
    "next-second": (BASE + SECOND, BASE + MICRO),
    "micro-after": ((BASE + MICRO).astimezone(IST), BASE - MICRO),
    "micro-before": (BASE - MICRO, (BASE + 2 * SECOND).astimezone(IST)),
    "half-second": (BASE + SECOND / 2, BASE + SECOND / 2),
    "next-day": (BASE + dt.timedelta(days=1), BASE + dt.timedelta(days=1)),
}

OPS = OPERATORS  # Python's comparisons: the expected results


def _instant(value: dt.datetime) -> dt.datetime:
    """``value`` as aware UTC, naive meaning UTC (the project's rule)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _forms(instant: dt.datetime) -> list[Any]:
    """``instant`` as each kind of value a caller may pass in a filter."""
    return [
        instant,
        instant.astimezone(PDT),
        instant.astimezone(IST).isoformat(),
        instant.replace(tzinfo=None),
        instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    ]


def _probes() -> list[Any]:
    """Every stored instant and its neighbours, each in every filter form."""
    instants = {_instant(when) for pair in STORED.values() for when in pair}
    around = {near for when in instants for near in (when - MICRO, when, when + MICRO)}
    return [form for instant in sorted(around) for form in _forms(instant)]


def _record(conn: Connection) -> None:
    events = [
        Event(mid, "compute.instance.update", generated, (Trait("when", 4, value),))
        for mid, (value, generated) in STORED.items()
    ]
    assert sorted(conn.record_events(events).stored) == sorted(STORED)


def _ids(conn: Connection, **kw: Any) -> list[str]:
    return sorted(event.message_id for event in conn.get_events(EventFilter(**kw)))


def _expected(pick: Callable[[tuple[dt.datetime, dt.datetime]], bool]) -> list[str]:
    return sorted(mid for mid, pair in STORED.items() if pick(pair))


def test_datetime_trait_operators_match_python(conn: Connection) -> None:
    """eq/ne/lt/le/gt/ge on a datetime trait select exactly what Python selects."""
    _record(conn)
    wrong = []
    for probe in _probes():
        at = _instant(probe if isinstance(probe, dt.datetime) else dt.datetime.fromisoformat(probe))
        for op, compare in OPS.items():
            found = _ids(conn, traits_filter=[{"key": "when", "datetime": probe, "op": op}])
            expected = _expected(lambda pair, op=compare, at=at: op(_instant(pair[0]), at))
            if found != expected:
                wrong.append((op, probe, found, expected))
    assert wrong == []


def test_generated_time_bounds_match_python(conn: Connection) -> None:
    """start/end bounds of get_events are inclusive and exact to the microsecond."""
    _record(conn)
    wrong = []
    for probe in _probes():
        at = _instant(probe if isinstance(probe, dt.datetime) else dt.datetime.fromisoformat(probe))
        cases = {
            "start": ({"start_timestamp": probe}, lambda when, at=at: when >= at),
            "end": ({"end_timestamp": probe}, lambda when, at=at: when <= at),
            "both": (
                {"start_timestamp": probe, "end_timestamp": probe},
                lambda when, at=at: when == at,
            ),
        }
        for name, (bounds, keep) in cases.items():
            expected = _expected(lambda pair, keep=keep: keep(_instant(pair[1])))
            found = _ids(conn, **bounds)
            if found != expected:
                wrong.append((name, probe, found, expected))
    assert wrong == []


def test_datetimes_read_back_as_the_same_instant_in_utc(conn: Connection) -> None:
    """Whole-second and zoned values come back aware UTC, equal to what was sent."""
    _record(conn)
    for event in conn.get_events(EventFilter()):
        value, generated = STORED[event.message_id]
        (trait,) = event.traits
        assert trait.value == _instant(value) and trait.value.tzinfo == UTC
        assert event.generated == _instant(generated) and event.generated.tzinfo == UTC
