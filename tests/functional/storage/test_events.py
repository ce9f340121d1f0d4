"""Event storage scenarios every driver must pass, with the same results.

Drivers may return traits in any order, so events are compared with their
traits sorted by name (:func:`canonical`).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from typing import Any

import pytest

from pipeline.exceptions import InvalidMarker
from pipeline.models import UTC, Event, Trait
from pipeline.storage import Capability, Connection, EventFilter
from pipeline.storage.query import OPERATORS

T0 = dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
CREATE = "compute.instance.create.end"
DELETE = "compute.instance.delete.end"


def make(
    message_id: str,
    *traits: Trait,
    event_type: str = CREATE,
    at: dt.datetime = T0,
    raw: dict[str, Any] | None = None,
) -> Event:
    """An event with the given traits."""
    return Event(message_id, event_type, at, traits, raw)


def canonical(event: Event) -> Event:
    """``event`` with its traits sorted by name."""
    traits = tuple(sorted(event.traits, key=lambda trait: trait.name))
    return Event(event.message_id, event.event_type, event.generated, traits, event.raw)


def ids(events: list[Event]) -> list[str]:
    return [event.message_id for event in events]


def query(conn: Connection, pagination: dict[str, Any] | None = None, **kw: Any) -> list[str]:
    """Message ids of ``get_events(EventFilter(**kw), pagination)``."""
    return ids(conn.get_events(EventFilter(**kw), pagination))


def test_record_then_read_back_one_event(conn: Connection) -> None:
    event = make("m-1", Trait("memory_mb", Trait.INT_TYPE, 2048), Trait("host", 1, "h1"))
    assert conn.record_events([event]).stored == ["m-1"]
    assert [canonical(found) for found in conn.get_events(EventFilter())] == [canonical(event)]


def test_values_keep_their_exact_type_and_precision(conn: Connection) -> None:
    """Big and zero ints, 0.1 floats, zoned microsecond datetimes, long non-ASCII text."""
    rng = random.Random(7)
    long_text = "".join(rng.choice("aé漢🙂 z\n'\"\\%_") for _ in range(10_000))
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    traits = (
        Trait("int_max", Trait.INT_TYPE, 2**63 - 1),
        Trait("int_min", Trait.INT_TYPE, -(2**63)),
        Trait("int_zero", Trait.INT_TYPE, 0),
        Trait("float_zero", Trait.FLOAT_TYPE, 0.0),
        Trait("float_tenth", Trait.FLOAT_TYPE, 0.1),
        Trait("float_big", Trait.FLOAT_TYPE, -1.5e300),
        Trait("when", Trait.DATETIME_TYPE, dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=ist)),
        Trait("long", Trait.TEXT_TYPE, long_text),
        Trait("empty", Trait.TEXT_TYPE, ""),
        Trait("spaced", Trait.TEXT_TYPE, "ends with space "),
    )
    generated = dt.datetime(2026, 11, 23, 12, 0, 0, 1, tzinfo=ist)
    conn.record_events([make("m-1", *traits, at=generated)])

    (stored,) = conn.get_events(EventFilter())
    assert stored.generated == generated and stored.generated.tzinfo == UTC
    by_name = {trait.name: trait for trait in stored.traits}
    assert len(by_name) == len(traits)
    for trait in traits:
        got = by_name[trait.name]
        assert (got.dtype, got.value) == (trait.dtype, trait.value), trait.name
        assert type(got.value) is type(trait.value), trait.name
    when = by_name["when"].value
    assert when.tzinfo == UTC and when.microsecond == 678901 and when.hour == 21
    assert query(conn, traits_filter=[{"key": "long", "string": long_text}]) == ["m-1"]
    assert query(conn, traits_filter=[{"key": "spaced", "string": "ends with space"}]) == []


def test_raw_round_trips_and_absent_raw_stays_none(conn: Connection) -> None:
    raw = {
        "event_type": CREATE,
        "payload": {"name": "vm-ü", "flags": [1, 2.5, None, True, "x"], "nested": {"a": {}}},
        "priority": "INFO",
    }
    conn.record_events([make("with", raw=raw), make("without")])
    found = {event.message_id: event.raw for event in conn.get_events(EventFilter())}
    assert found == {"with": raw, "without": None}


#: (dtype, API type key, low, mid, high, same-named trait of another type)
TYPED_VALUES = [
    (Trait.TEXT_TYPE, "string", "apple", "banana", "cherry", Trait("v", Trait.INT_TYPE, 1)),
    (Trait.INT_TYPE, "integer", -5, 0, 2**40, Trait("v", Trait.TEXT_TYPE, "0")),
    (Trait.FLOAT_TYPE, "float", -0.5, 0.1, 3.25, Trait("v", Trait.INT_TYPE, 0)),
    (
        Trait.DATETIME_TYPE,
        "datetime",
        T0 - dt.timedelta(days=1),
        T0,
        T0 + dt.timedelta(microseconds=1),
        Trait("v", Trait.TEXT_TYPE, T0.isoformat()),
    ),
]


@pytest.mark.parametrize(
    "dtype,key,low,mid,high,other", TYPED_VALUES, ids=[row[1] for row in TYPED_VALUES]
)
def test_every_operator_per_trait_type(
    conn: Connection, dtype: int, key: str, low: Any, mid: Any, high: Any, other: Trait
) -> None:
    """Each op compares typed values; a same-named trait of another type never matches."""
    values = {"low": low, "mid": mid, "high": high}
    conn.record_events(
        [make(name, Trait("v", dtype, value)) for name, value in values.items()]
        + [make("other-type", other), make("no-trait", Trait("w", dtype, mid))]
    )
    for op, compare in OPERATORS.items():
        expected = sorted(name for name, value in values.items() if compare(value, mid))
        found = query(conn, traits_filter=[{"key": "v", key: mid, "op": op}])
        assert sorted(found) == expected, op
    assert query(conn, traits_filter=[{"key": "v", key: mid}]) == ["mid"]


def test_filter_value_given_as_string_is_converted(conn: Connection) -> None:
    conn.record_events(
        [make("a", Trait("n", Trait.INT_TYPE, 42)), make("b", Trait("t", Trait.DATETIME_TYPE, T0))]
    )
    assert query(conn, traits_filter=[{"key": "n", "integer": "42"}]) == ["a"]
    assert query(conn, traits_filter=[{"key": "t", "datetime": T0.isoformat()}]) == ["b"]


def test_all_conditions_are_anded(conn: Connection) -> None:
    later = T0 + dt.timedelta(hours=1)
    conn.record_events(
        [
            make("all", Trait("host", 1, "h1"), Trait("vcpus", 2, 4), at=later),
            make("wrong-host", Trait("host", 1, "h2"), Trait("vcpus", 2, 4), at=later),
            make("few-cpus", Trait("host", 1, "h1"), Trait("vcpus", 2, 1), at=later),
            make("early", Trait("host", 1, "h1"), Trait("vcpus", 2, 4)),
            make(
                "other-type",
                Trait("host", 1, "h1"),
                Trait("vcpus", 2, 4),
                event_type=DELETE,
                at=later,
            ),
        ]
    )
    found = query(
        conn,
        start_timestamp=later,
        event_type=CREATE,
        traits_filter=[{"key": "host", "string": "h1"}, {"key": "vcpus", "integer": 2, "op": "ge"}],
    )
    assert found == ["all"]
    assert query(conn, message_id="early") == ["early"]
    assert query(conn, message_id="early", event_type=DELETE) == []


def test_time_bounds_are_inclusive_to_the_microsecond(conn: Connection) -> None:
    times = [T0 + dt.timedelta(microseconds=n) for n in range(4)]
    conn.record_events([make(f"t{n}", at=when) for n, when in enumerate(times)])
    assert query(conn, start_timestamp=times[1], end_timestamp=times[2]) == ["t1", "t2"]
    assert query(conn, start_timestamp=times[3]) == ["t3"]
    assert query(conn, end_timestamp=times[0]) == ["t0"]
    zoned = times[1].astimezone(dt.timezone(dt.timedelta(hours=-7)))
    assert query(conn, start_timestamp=zoned.isoformat(), end_timestamp=zoned) == ["t1"]


def test_admin_proj_keeps_own_project_and_events_without_one(conn: Connection) -> None:
    conn.record_events(
        [
            make("mine", Trait("project_id", Trait.TEXT_TYPE, "p1")),
            make("theirs", Trait("project_id", Trait.TEXT_TYPE, "p2")),
            make("none", Trait("user_id", Trait.TEXT_TYPE, "p1")),
            make("typed", Trait("project_id", Trait.INT_TYPE, 1)),
        ]
    )
    assert sorted(query(conn, admin_proj="p1")) == ["mine", "none"]


SORTS = [
    None,
    [("generated", "desc")],
    [("message_id", "desc")],
    [("generated", "asc"), ("message_id", "desc")],
    [("generated", "desc"), ("message_id", "asc")],
]


def _expected_order(events: list[Event], sort: list[tuple[str, str]] | None) -> list[str]:
    """Python's reference order: stable sorts from the last key to the first."""
    keys = list(sort or [("generated", "asc")])
    if "message_id" not in (key for key, _ in keys):
        keys.append(("message_id", "asc"))
    ordered = list(events)
    for key, direction in reversed(keys):
        ordered.sort(key=lambda event: getattr(event, key), reverse=direction == "desc")
    return ids(ordered)


def test_pagination_walks_every_sort_with_markers(conn: Connection) -> None:
    """Pages of 3 follow the sort (mixed directions too) and never repeat or skip."""
    second = dt.timedelta(seconds=1)
    events = [make(f"e{n}", at=T0 + (n % 3) * second) for n in (5, 1, 7, 3, 0, 6, 2, 4)]
    conn.record_events(events)
    for sort in SORTS:
        expected = _expected_order(events, sort)
        walked: list[str] = []
        pagination: dict[str, Any] = {"limit": 3} if sort is None else {"limit": 3, "sort": sort}
        while True:
            page = conn.get_events(EventFilter(), pagination)
            assert len(page) <= 3
            walked += ids(page)
            if len(page) < 3:
                break
            pagination = {**pagination, "marker": page[-1].message_id}
        assert walked == expected, sort
        full = conn.get_events(EventFilter(), None if sort is None else {"sort": sort})
        assert ids(full) == expected, sort


def test_pagination_combines_with_filters(conn: Connection) -> None:
    conn.record_events(
        [make(f"e{n}", Trait("n", 2, n), at=T0 + dt.timedelta(seconds=n)) for n in range(6)]
    )
    flt = {"traits_filter": [{"key": "n", "integer": 1, "op": "ge"}]}
    assert query(conn, {"limit": 2, "marker": "e2"}, **flt) == ["e3", "e4"]
    assert query(conn, {"limit": 2, "marker": "e2", "sort": [("generated", "desc")]}, **flt) == [
        "e1"
    ]


def test_unknown_marker_raises_invalid_marker(conn: Connection) -> None:
    conn.record_events([make("e1")])
    with pytest.raises(InvalidMarker):
        conn.get_events(EventFilter(), {"marker": "nope", "limit": 1})


def test_duplicates_inside_and_across_batches_are_counted_not_stored(conn: Connection) -> None:
    first = conn.record_events([make("a"), make("b"), make("a", Trait("x", 1, "again"))])
    assert sorted(first.stored) == ["a", "b"] and first.duplicates == ["a"] and not first.failed
    second = conn.record_events([make("b", Trait("x", 1, "later")), make("c")])
    assert second.stored == ["c"] and second.duplicates == ["b"] and not second.failed
    assert sorted(query(conn)) == ["a", "b", "c"]
    assert conn.get_events(EventFilter(message_id="b"))[0].traits == ()
    assert conn.get_events(EventFilter(message_id="a"))[0].traits == ()


def test_bad_events_fail_alone_and_the_rest_is_stored(conn: Connection) -> None:
    batch = [
        make("good-1", Trait("n", Trait.INT_TYPE, 1)),
        make("bad-int", Trait("n", Trait.INT_TYPE, "not a number")),
        make("bad-type", Trait("n", 99, 1)),
        make("bad-datetime", Trait("t", Trait.DATETIME_TYPE, "yesterday")),
        make("good-2", Trait("t", Trait.TEXT_TYPE, "fine")),
    ]
    result = conn.record_events(batch)
    assert sorted(result.stored) == ["good-1", "good-2"]
    assert sorted(result.failed) == ["bad-datetime", "bad-int", "bad-type"]
    assert all(reason for reason in result.failed.values())
    assert "99" in result.failed["bad-type"] and "'n'" in result.failed["bad-int"]
    assert sorted(query(conn)) == ["good-1", "good-2"]
    assert conn.record_events([make("bad-int", Trait("n", Trait.INT_TYPE, 2))]).stored == [
        "bad-int"
    ]


@pytest.mark.requires(Capability.EVENT_EXPIRY)
def test_expiry_deletes_oldest_first_bounded_and_drops_empty_event_types(
    conn: Connection,
) -> None:
    now = dt.datetime.now(UTC)
    old = [
        make(f"old{n}", Trait("n", 2, n), at=now - dt.timedelta(hours=3, minutes=n))
        for n in range(5)
    ]
    conn.record_events(
        old
        + [
            make("old-delete", Trait("n", 2, 9), event_type=DELETE, at=now - dt.timedelta(hours=2)),
            make("new", Trait("n", 2, 10), at=now),
        ]
    )
    assert conn.clear_expired_data(3600, max_count=3) == 3
    # The oldest three (largest n) went first.
    assert sorted(query(conn)) == ["new", "old-delete", "old0", "old1"]
    assert conn.get_event_types() == [CREATE, DELETE]
    assert conn.clear_expired_data(3600) == 3
    assert query(conn) == ["new"]
    assert conn.get_event_types() == [CREATE]
    assert conn.get_traits(CREATE) == [Trait("n", 2, 10)]
    assert conn.get_trait_types(DELETE) == []
    assert conn.clear_expired_data(3600) == 0
    assert conn.clear_expired_data(0) == 0 and query(conn) == ["new"]


def test_event_types_trait_types_and_traits(conn: Connection) -> None:
    conn.record_events(
        [
            make("c1", Trait("host", 1, "h1"), Trait("vcpus", 2, 2), at=T0),
            make(
                "c2",
                Trait("host", 1, "h2"),
                Trait("ratio", 3, 0.5),
                at=T0 + dt.timedelta(seconds=1),
            ),
            make("d1", Trait("host", 2, 7), event_type=DELETE),
            make("z", event_type="zeta.no.traits"),
        ]
    )
    assert conn.get_event_types() == [CREATE, DELETE, "zeta.no.traits"]
    assert conn.get_trait_types(CREATE) == [
        {"name": "host", "data_type": Trait.TEXT_TYPE},
        {"name": "ratio", "data_type": Trait.FLOAT_TYPE},
        {"name": "vcpus", "data_type": Trait.INT_TYPE},
    ]
    assert conn.get_trait_types(DELETE) == [{"name": "host", "data_type": Trait.INT_TYPE}]
    assert conn.get_trait_types("unknown.type") == []
    assert conn.get_traits(CREATE, "host") == [Trait("host", 1, "h1"), Trait("host", 1, "h2")]
    assert sorted(conn.get_traits(CREATE), key=lambda t: t.name) == [
        Trait("host", 1, "h1"),
        Trait("host", 1, "h2"),
        Trait("ratio", 3, 0.5),
        Trait("vcpus", 2, 2),
    ]
    assert conn.get_traits("zeta.no.traits") == []


def test_get_events_leaves_the_callers_filter_alone(conn: Connection) -> None:
    conn.record_events([make("a", Trait("n", 2, 1))])
    traits_filter = [{"key": "n", "integer": "1"}, {"key": "n", "integer": 0, "op": "gt"}]
    event_filter = EventFilter(
        start_timestamp=T0.isoformat(), traits_filter=traits_filter, admin_proj="p"
    )
    before = copy.deepcopy(vars(event_filter))
    pagination = {"limit": 5, "sort": [("generated", "desc")]}
    assert ids(conn.get_events(event_filter, pagination)) == ["a"]
    assert vars(event_filter) == before and event_filter.traits_filter is traits_filter
    assert pagination == {"limit": 5, "sort": [("generated", "desc")]}


def test_clear_removes_everything(conn: Connection) -> None:
    conn.record_events([make("a", Trait("n", 2, 1))])
    conn.clear()
    assert query(conn) == [] and conn.get_event_types() == []
    assert conn.record_events([make("a")]).stored == ["a"]
