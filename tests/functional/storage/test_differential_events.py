"""Every driver answers event queries exactly as the reference evaluation does.

A seeded corpus of edge values (:mod:`.event_corpus`) is recorded in the
driver under test and in :class:`.event_reference.ReferenceEvents`; then
random filters, sorts, limits and markers, and every operator on every edge
value of every trait type, must give the same events in the same order,
value for value (:func:`.event_reference.fingerprint`).

Reproduce a failure with the seed it prints::

    PIPELINE_DIFF_SEED=<seed> python -m pytest tests/functional/storage/test_differential_events.py

Random queries run for at most ``QUERY_SECONDS`` per driver (at least
``MIN_QUERIES`` of them); the sequence of cases depends on the seed alone,
so case N is the same case on every run.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator

import pytest

from pipeline.exceptions import InvalidMarker
from pipeline.models import Event, Trait
from pipeline.storage import Capability, Connection, EventFilter
from tests.functional.storage import event_corpus as corpus
from tests.functional.storage.event_reference import (
    ReferenceEvents,
    exact,
    fingerprint,
    storable,
)

pytestmark = pytest.mark.requires(Capability.EVENTS)

SEED = int(os.environ.get("PIPELINE_DIFF_SEED", "20261123"))
#: Events per driver: enough for every edge several times, small enough for
#: the MongoDB test server.
EVENTS = 100
MIN_QUERIES, MAX_QUERIES, QUERY_SECONDS = 100, 1000, 2.0
#: Divergences listed in a failure message (all are counted).
SHOWN = 12


class Divergences:
    """Cases where the driver and the reference disagree, reported together."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.cases: list[str] = []
        self.checked = 0

    def compare(self, case: str, got: list[Event], expected: list[Event]) -> None:
        """Record ``case`` when the two answers differ in any event or value."""
        self.checked += 1
        if [fingerprint(e) for e in got] != [fingerprint(e) for e in expected]:
            self.cases.append(
                f"{case}\n    got      {_describe(got, expected)}"
                f"\n    expected {[e.message_id for e in expected]}"
            )

    def assert_none(self) -> None:
        """Fail listing the first divergences, the count and the seed."""
        assert not self.cases, (
            f"{len(self.cases)} of {self.checked} {self.what} differ from the reference "
            f"(PIPELINE_DIFF_SEED={SEED}):\n" + "\n".join(self.cases[:SHOWN])
        )


def _describe(got: list[Event], expected: list[Event]) -> str:
    ids = [e.message_id for e in got]
    if ids != [e.message_id for e in expected]:
        return str(ids)
    for mine, theirs in zip(got, expected, strict=True):  # same ids: a value differs
        if fingerprint(mine) != fingerprint(theirs):
            return f"{ids}; first differing event {fingerprint(mine)} != {fingerprint(theirs)}"
    return str(ids)


@pytest.fixture
def stored(conn: Connection) -> Iterator[tuple[Connection, ReferenceEvents]]:
    """The driver and the reference after recording the same seeded batches."""
    reference = ReferenceEvents()
    for batch in corpus.make_batches(random.Random(SEED), EVENTS):
        expected = reference.record(batch)
        result = conn.record_events(batch)
        # Each list's order is unspecified; which ids land in which list is.
        assert (sorted(result.stored), sorted(result.duplicates), sorted(result.failed)) == (
            sorted(expected.stored),
            sorted(expected.duplicates),
            sorted(expected.failed),
        ), f"PIPELINE_DIFF_SEED={SEED}: {result.failed}"
    yield conn, reference


SORTS = [
    [("generated", "asc")],
    [("generated", "desc")],
    [("message_id", "desc")],
    [("generated", "desc"), ("message_id", "asc")],
]


def test_recorded_events_read_back_list_and_page_alike(
    stored: tuple[Connection, ReferenceEvents],
) -> None:
    """Every edge value round-trips; types, traits and marker pages agree."""
    conn, reference = stored
    differences = Divergences("reads")
    differences.compare(
        "all events", conn.get_events(EventFilter()), reference.get_events(EventFilter())
    )
    for sort in SORTS:  # page by page, each page after the last one's marker
        expected = reference.get_events(EventFilter(), {"sort": sort})
        pages: list[Event] = []
        marker = None
        for _ in range(len(expected) // 9 + 2):  # bounded: a marker that repeats must not loop
            page = conn.get_events(EventFilter(), {"sort": sort, "limit": 9, "marker": marker})
            if not page:
                break
            pages.extend(page)
            marker = page[-1].message_id
        differences.compare(f"pages of 9 by marker, sort={sort}", pages, expected)
    differences.assert_none()
    with pytest.raises(InvalidMarker):
        conn.get_events(EventFilter(), {"marker": "never-stored"})
    assert conn.get_event_types() == reference.get_event_types()
    for event_type in reference.get_event_types():
        assert conn.get_trait_types(event_type) == reference.get_trait_types(event_type)
        for name in (None, "size", "project_id", "k07"):
            got = [(t.name, t.dtype, exact(t.value)) for t in conn.get_traits(event_type, name)]
            expected = [
                (t.name, t.dtype, exact(t.value)) for t in reference.get_traits(event_type, name)
            ]
            assert got == expected, (event_type, name, f"PIPELINE_DIFF_SEED={SEED}")


def test_random_queries_match_the_reference(stored: tuple[Connection, ReferenceEvents]) -> None:
    """Random filters on every field, sorts, limits and markers."""
    conn, reference = stored
    rng = random.Random(SEED + 1)
    ids, values = sorted(reference.events), reference.values()
    differences = Divergences("random queries")
    deadline = time.monotonic() + QUERY_SECONDS
    for case in range(MAX_QUERIES):
        if case >= MIN_QUERIES and time.monotonic() > deadline:
            break
        event_filter, pagination = corpus.random_query(rng, ids, values)
        differences.compare(
            f"case {case}: get_events({event_filter!r}, {pagination!r})",
            conn.get_events(event_filter, pagination),
            reference.get_events(event_filter, pagination),
        )
    differences.assert_none()


def _single_conditions() -> Iterator[EventFilter]:
    """Every operator on every edge value of every type, and bounds at every edge instant."""
    for dtype, values in corpus.POOLS.items():
        for value in values:
            for op in corpus.OPS:
                yield EventFilter(
                    traits_filter=[{"key": "v", corpus.API_TYPES[dtype]: value, "op": op}]
                )
    for instant in corpus.DATETIMES:
        for bound in (instant - corpus.MICRO, instant, instant + corpus.MICRO):
            yield EventFilter(start_timestamp=bound)
            yield EventFilter(end_timestamp=bound.isoformat())  # as the API passes it


def test_every_operator_on_every_edge_value_matches_the_reference(conn: Connection) -> None:
    """The exhaustive complement of the random queries, on one event per edge value."""
    reference = ReferenceEvents()
    grid = corpus.grid_events()
    reference.record(grid)
    assert len(conn.record_events(grid).stored) == len(grid)
    differences = Divergences("single conditions")
    for event_filter in _single_conditions():
        differences.compare(
            repr(event_filter), conn.get_events(event_filter), reference.get_events(event_filter)
        )
    differences.assert_none()


def test_the_corpus_holds_the_edges_it_promises() -> None:
    """Guards the generator: a change that drops an edge fails here, not silently."""
    reference = ReferenceEvents()
    batches = corpus.make_batches(random.Random(SEED), EVENTS)
    results = [reference.record(batch) for batch in batches]
    assert any(len(b) != len({e.message_id for e in b}) for b in batches)  # inside a batch
    assert sum(len(r.duplicates) for r in results) > sum(
        len(b) - len({e.message_id for e in b}) for b in batches
    )  # and across batches
    stored = {(t.dtype, exact(t.value)) for e in reference.events.values() for t in e.traits}
    for dtype, pool in corpus.POOLS.items():
        missing = [
            v for v in pool if (dtype, exact(Trait.checked("x", dtype, v).value)) not in stored
        ]
        assert len(missing) <= len(pool) // 4, (dtype, missing)
    assert max(len(e.traits) for e in reference.events.values()) >= 50
    failed = {message_id for result in results for message_id in result.failed}
    refused = [event for batch in batches for event in batch if event.message_id in failed]
    assert len(refused) >= 3 and all(not storable(e) for e in refused)
    assert corpus.LONG_NAME in {t.name for e in reference.events.values() for t in e.traits}
    assert max(len(mid) for mid in reference.events) == 255
