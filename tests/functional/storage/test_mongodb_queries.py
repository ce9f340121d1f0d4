"""The MongoDB driver answers every event query exactly as the reference driver.

One small data set (ties on ``generated``, microsecond neighbours, the same
trait name with different types, non-ASCII text, int64 extremes, events
with and without ``project_id``) is stored in both the memory driver (the
reference semantics) and MongoDB; hypothesis then draws filters, sorts,
limits and markers and the two must return the same events in the same order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import storage
from pipeline.models import INT64_MAX, INT64_MIN, UTC, Event, Trait
from pipeline.storage import Connection, EventFilter
from tests import servers

BASE = dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
MICRO = dt.timedelta(microseconds=1)
TIMES = [BASE - MICRO, BASE, BASE + MICRO, BASE + dt.timedelta(milliseconds=1), BASE + 5 * MICRO,
         BASE.replace(microsecond=0), BASE + dt.timedelta(days=400)]
TYPES = ["compute.instance.create.end", "image.upload", "volume.delete.start"]
TEXTS = ["alpha", "Beta", "gamma", "é-accent", "zz", ""]
INTS = [INT64_MIN, -7, 0, 7, 2048, INT64_MAX]
FLOATS = [-1.5, 0.0, 0.25, 7.0, 1e300]
PROJECTS = ["p1", "p2"]


def _traits(i: int) -> tuple[Trait, ...]:
    traits = [Trait("name", Trait.TEXT_TYPE, TEXTS[i % len(TEXTS)])]
    if i % 4 != 3:
        traits.append(Trait("project_id", Trait.TEXT_TYPE, PROJECTS[i % 2]))
    elif i % 8 == 7:
        traits.append(Trait("project_id", Trait.INT_TYPE, 1))
    # "size" is an int in some events and a float in others.
    if i % 3 == 0:
        traits.append(Trait("size", Trait.FLOAT_TYPE, FLOATS[i % len(FLOATS)]))
    else:
        traits.append(Trait("size", Trait.INT_TYPE, INTS[i % len(INTS)]))
    if i % 2 == 0:
        traits.append(Trait("launched_at", Trait.DATETIME_TYPE, TIMES[(i * 3) % len(TIMES)]))
    return tuple(traits)


EVENTS = [
    Event(f"msg-{i:02d}", TYPES[i % len(TYPES)], TIMES[i % len(TIMES)], _traits(i), None)
    for i in range(30)
]
VALUES: dict[str, list[Any]] = {
    "string": TEXTS + PROJECTS,
    "integer": INTS + [1, 3],
    "float": FLOATS + [7.5],
    "datetime": TIMES,
}


@pytest.fixture(scope="module")
def stores(mongodb_server_url: str) -> Iterator[tuple[Connection, Connection]]:
    """(reference memory driver, MongoDB driver) holding the same events."""
    with servers.mongodb_database(mongodb_server_url) as url:
        mongo = storage.get_connection(url)
        mongo.upgrade()
        memory = storage.get_connection("memory://")
        assert mongo.record_events(EVENTS).stored == memory.record_events(EVENTS).stored
        try:
            yield memory, mongo
        finally:
            mongo.close()


def _trait_filters() -> st.SearchStrategy[dict[str, Any]]:
    def build(name: str, type_name: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({
            "key": st.just(name),
            type_name: st.sampled_from(VALUES[type_name]),
            "op": st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
        })

    names = st.sampled_from(["name", "project_id", "size", "launched_at"])
    types = st.sampled_from(list(VALUES))
    return st.tuples(names, types).flatmap(lambda pair: build(*pair))


filters = st.builds(
    EventFilter,
    start_timestamp=st.none() | st.sampled_from(TIMES),
    end_timestamp=st.none() | st.sampled_from(TIMES),
    event_type=st.none() | st.sampled_from(TYPES),
    traits_filter=st.lists(_trait_filters(), max_size=2),
    admin_proj=st.none() | st.sampled_from(PROJECTS),
)
sorts = st.lists(
    st.tuples(st.sampled_from(["generated", "message_id"]), st.sampled_from(["asc", "desc"])),
    max_size=2,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    event_filter=filters,
    sort=sorts,
    limit=st.none() | st.integers(1, 5),
    marker=st.none() | st.sampled_from([e.message_id for e in EVENTS]),
)
def test_queries_match_the_reference_driver(
    stores: tuple[Connection, Connection], event_filter: EventFilter,
    sort: list[tuple[str, str]], limit: int | None, marker: str | None,
) -> None:
    memory, mongo = stores
    pagination = {"sort": sort, "limit": limit, "marker": marker}
    assert mongo.get_events(event_filter, pagination) == memory.get_events(event_filter, pagination)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_walking_pages_by_marker_visits_every_event_once(
    stores: tuple[Connection, Connection], direction: str
) -> None:
    _, mongo = stores
    sort = [("generated", direction), ("message_id", "desc")]
    everything = mongo.get_events(EventFilter(), {"sort": sort})
    pages: list[Event] = []
    marker = None
    while True:
        page = mongo.get_events(EventFilter(), {"sort": sort, "limit": 4, "marker": marker})
        if not page:
            break
        pages.extend(page)
        marker = page[-1].message_id
    assert pages == everything
    assert sorted(e.message_id for e in everything) == sorted(e.message_id for e in EVENTS)


def test_time_bounds_are_inclusive_to_the_microsecond(
    stores: tuple[Connection, Connection],
) -> None:
    """BSON dates keep milliseconds; the driver must still tell BASE from BASE±1µs."""
    _, mongo = stores
    found = mongo.get_events(EventFilter(start_timestamp=BASE, end_timestamp=BASE))
    assert {e.generated for e in found} == {BASE}
    expected = {e.message_id for e in EVENTS if e.generated == BASE}
    assert {e.message_id for e in found} == expected
    later = mongo.get_events(EventFilter(start_timestamp=BASE + MICRO, end_timestamp=BASE + MICRO))
    assert {e.generated for e in later} == {BASE + MICRO}


def test_trait_types_and_traits_match_the_reference_driver(
    stores: tuple[Connection, Connection],
) -> None:
    memory, mongo = stores
    assert mongo.get_event_types() == memory.get_event_types() == sorted(TYPES)
    for event_type in TYPES:
        assert mongo.get_trait_types(event_type) == memory.get_trait_types(event_type)
        assert mongo.get_traits(event_type) == memory.get_traits(event_type)
        assert mongo.get_traits(event_type, "size") == memory.get_traits(event_type, "size")


SINGLE_CONDITIONS = [
    (name, type_name, value, op)
    for name, type_name in [("name", "string"), ("project_id", "string"), ("project_id", "integer"),
                            ("size", "integer"), ("size", "float"), ("launched_at", "datetime")]
    for value in VALUES[type_name]
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]
]


def test_every_operator_on_every_stored_value_matches_the_reference(
    stores: tuple[Connection, Connection],
) -> None:
    memory, mongo = stores
    for name, type_name, value, op in SINGLE_CONDITIONS:
        event_filter = EventFilter(traits_filter=[{"key": name, type_name: value, "op": op}])
        expected = memory.get_events(event_filter)
        assert mongo.get_events(event_filter) == expected, (name, type_name, value, op)
