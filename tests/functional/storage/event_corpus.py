"""Seeded random events and event queries at the edges where drivers drift.

:func:`make_batches` builds a corpus of event batches from one
``random.Random``; :func:`random_query` draws a filter and pagination over
it. Values come from pools of edges every driver must store and compare
exactly as Python does (the reference :func:`pipeline.storage.query.evaluate`):

* datetimes: whole seconds, microsecond neighbours, the same instant written
  in other UTC offsets, the epoch and just before it;
* integers: the 64-bit bounds and the neighbours of 2**31 and 2**53;
* floats: negative zero, the smallest subnormal, 1e-300, 1e300, the largest
  double (never NaN or infinity: drivers refuse them);
* text: empty, trailing space, case and accents that sort differently by
  code point and by collation, combining marks, astral-plane characters,
  long values (over 255 characters, a few KB) sharing long prefixes;
* message ids and event types drawn from the same collation traps, events
  with 50+ traits, one trait name stored with several types, and message
  ids repeated inside a batch and across batches (the first write wins);
* names of exactly 255 characters (some astral: 1020 bytes of UTF-8), and
  events every driver must refuse alone (:func:`refused_event`): NUL or a
  surrogate code point in a name or text value, names of 256 characters,
  more than 4 MiB of text.

The same seed always gives the same corpus and the same queries.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from pipeline.models import INT64_MAX, INT64_MIN, UTC, Event, Trait
from pipeline.storage import EventFilter

_WHOLE = dt.datetime(2024, 3, 1, 7, 0, 0, tzinfo=UTC)
MICRO = dt.timedelta(microseconds=1)
DATETIMES = [
    _WHOLE,
    _WHOLE - MICRO,
    _WHOLE + MICRO,
    _WHOLE + dt.timedelta(seconds=1),
    _WHOLE + dt.timedelta(milliseconds=1),
    _WHOLE.replace(microsecond=999_999),
    dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2024, 2, 29, 23, 0, 0, 500_000, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    dt.datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    dt.datetime(2099, 12, 31, 23, 59, 59, 123_456, tzinfo=UTC),
]
INTS = [
    INT64_MIN,
    INT64_MIN + 1,
    -(2**53) - 1,
    -1,
    0,
    1,
    2**31 - 1,
    2**31,
    2**53,
    2**53 + 1,
    INT64_MAX - 1,
    INT64_MAX,
]
FLOATS = [
    -1.7976931348623157e308,
    -1e300,
    -1.5,
    -5e-324,
    -0.0,
    0.0,
    5e-324,
    1e-300,
    2.2250738585072014e-308,
    0.1,
    1.0,
    float(2**53),
    1e300,
    1.7976931348623157e308,
]
_LONG = "".join(chr(0x61 + i % 26) for i in range(300))
TEXTS = [
    "",
    " ",
    "a",
    "a ",
    "A",
    "B",
    "Z",
    "z",
    "b",
    "é",
    "e\u0301",
    "É",
    "ß",
    "ss",
    "İ",
    "\U0001f600",
    "\U0001d4b3x",
    "漢字",
    "%_'\\\"",
    "null",
    _LONG,
    _LONG + "a",
    _LONG + "B",
    _LONG[:255] + "é",
    "ü" * 3000,
]
PROJECTS = ["p1", "p2", "P1", "é"]
#: A trait name, event type or message id prefix right at the 255-character limit.
LONG_NAME = "ł" * 255
EVENT_TYPES = [
    "compute.instance.create.end",
    "Compute.instance",
    "image.upload",
    "évent.ü",
    "\U0001f600.type",
    LONG_NAME,
]
_ID_PREFIXES = ["a", "B", "Z", "z", "é", "É", "_", "0", "\U0001d4b3", "a ", "\U0001d4b3" * 252]
#: Text no driver stores: NUL, lone surrogates (a JSON "\ud800" escape decodes
#: to one), the two halves of U+1F600 as two code points.
BAD_TEXTS = ["\x00", "a\x00b", "\ud800", "x\udfff", "\ud83d\ude00"]
_MIB = 1024 * 1024
#: Trait name -> the dtype it usually has (each is sometimes stored with another).
NAMES = {
    "host": Trait.TEXT_TYPE,
    "size": Trait.INT_TYPE,
    "ratio": Trait.FLOAT_TYPE,
    "launched_at": Trait.DATETIME_TYPE,
    "state": Trait.TEXT_TYPE,
}
POOLS: dict[int, list[Any]] = {
    Trait.TEXT_TYPE: TEXTS,
    Trait.INT_TYPE: INTS,
    Trait.FLOAT_TYPE: FLOATS,
    Trait.DATETIME_TYPE: DATETIMES,
}
API_TYPES = {dtype: Trait.get_name_by_type(dtype) for dtype in POOLS}
OPS = ["eq", "ne", "lt", "le", "gt", "ge"]


def _value(rng: random.Random, dtype: int) -> Any:
    return rng.choice(POOLS[dtype])


def _traits(rng: random.Random) -> list[Trait]:
    traits = []
    for name, usual in NAMES.items():
        if rng.random() < 0.75:
            dtype = usual if rng.random() < 0.8 else rng.choice(list(POOLS))
            traits.append(Trait(name, dtype, _value(rng, dtype)))
    roll = rng.random()
    if roll < 0.6:
        traits.append(Trait("project_id", Trait.TEXT_TYPE, rng.choice(PROJECTS)))
    elif roll < 0.7:
        traits.append(Trait("project_id", Trait.INT_TYPE, 1))
    if rng.random() < 0.15:
        traits.append(Trait(LONG_NAME, Trait.TEXT_TYPE, _value(rng, Trait.TEXT_TYPE)))
    if rng.random() < 0.1:  # a wide event
        for i in range(rng.randint(50, 60)):
            dtype = rng.choice(list(POOLS))
            traits.append(Trait(f"k{i:02d}", dtype, _value(rng, dtype)))
    rng.shuffle(traits)  # drivers read traits back sorted by name
    return traits


def _event(rng: random.Random, message_id: str) -> Event:
    raw = None
    if rng.random() < 0.3:
        raw = {"payload": {"n": rng.randint(-5, 5), "text": rng.choice(TEXTS[:20])}, "ok": True}
    generated = (
        rng.choice(DATETIMES)
        if rng.random() < 0.7
        else (_WHOLE + dt.timedelta(microseconds=rng.randint(-(10**7), 10**7)))
    )
    return Event(message_id, rng.choice(EVENT_TYPES), generated, tuple(_traits(rng)), raw)


def refused_event(rng: random.Random, message_id: str) -> Event:
    """An event like the others but for one thing that every driver must refuse."""
    event = _event(rng, message_id)
    bad = rng.choice(BAD_TEXTS)
    where = rng.choice(["value", "name", "long name", "message_id", "event_type", "size"])
    traits, event_type = list(event.traits), event.event_type
    if where == "value":
        traits.append(Trait("bad", Trait.TEXT_TYPE, f"{rng.choice(TEXTS)}{bad}"))
    elif where == "name":
        traits.append(Trait(f"bad{bad}", Trait.INT_TYPE, 1))
    elif where == "long name":
        traits.append(Trait(LONG_NAME + "ł", Trait.INT_TYPE, 1))
    elif where == "message_id":
        message_id += bad if rng.random() < 0.8 else LONG_NAME
    elif where == "event_type":
        event_type += bad if rng.random() < 0.8 else "x" * 256
    else:  # 4 MiB of text counted in UTF-8 bytes: 2 MiB in "é" is 2 Mi characters
        traits += [Trait("big1", Trait.TEXT_TYPE, "é" * _MIB), Trait("big2", Trait.TEXT_TYPE, "é" * _MIB)]
    return Event(message_id, event_type, event.generated, tuple(traits), event.raw)


def make_batches(rng: random.Random, size: int) -> list[list[Event]]:
    """About ``size`` events in batches of 1-25, some message ids repeated, a few refused.

    A repeat carries different content, so a driver that lets a later copy
    win is caught; it reuses an id from earlier in the batch or an earlier
    one. A refused event has an id of its own and fails alone.
    """
    ids = iter(f"{rng.choice(_ID_PREFIXES)}{i:03d}" for i in range(size))
    batches: list[list[Event]] = []
    written: list[str] = []
    remaining = size
    while remaining:
        batch: list[Event] = []
        count = min(rng.randint(1, 25), remaining)
        for _ in range(count):
            written.append(next(ids))
            batch.append(_event(rng, written[-1]))
            if rng.random() < 0.08:
                batch.append(_event(rng, rng.choice(written)))
            if rng.random() < 0.1:
                batch.insert(rng.randrange(len(batch) + 1), refused_event(rng, f"r{written[-1]}"))
        remaining -= count
        batches.append(batch)
    return batches


def grid_events() -> list[Event]:
    """One event per edge value: trait ``v`` holds it, ``generated`` cycles the edge instants.

    ``v`` thus has every type, so a typed condition must skip the others.
    """
    events = []
    for dtype, pool in POOLS.items():
        for index, value in enumerate(pool):
            generated = DATETIMES[len(events) % len(DATETIMES)]
            name = f"{API_TYPES[dtype]}-{index:02d}"
            events.append(Event(name, "grid", generated, (Trait("v", dtype, value),)))
    return events


def _bound(rng: random.Random) -> dt.datetime | str | None:
    if rng.random() < 0.5:
        return None
    value = rng.choice(DATETIMES) + rng.choice([-MICRO, dt.timedelta(0), dt.timedelta(0), MICRO])
    # The API hands bounds over as ISO text, sometimes in another offset.
    return value.isoformat() if rng.random() < 0.3 else value


def trait_filter(rng: random.Random, stored: Mapping[tuple[str, int], list[Any]]) -> dict[str, Any]:
    """One ``traits_filter`` item: any name, any type, any operator.

    The value is often one ``stored`` under that name and type, so that
    equality and the bounds of ranges are hit, not only missed.
    """
    name = rng.choice([*NAMES, "project_id", "k07", "missing", LONG_NAME])
    dtype = NAMES.get(name, Trait.TEXT_TYPE) if rng.random() < 0.6 else rng.choice(list(POOLS))
    candidates = stored.get((name, dtype))
    value: Any = rng.choice(candidates) if candidates and rng.random() < 0.6 else _value(rng, dtype)
    if dtype == Trait.DATETIME_TYPE and rng.random() < 0.3:
        value = (value + rng.choice([-MICRO, MICRO])).isoformat()
    elif dtype == Trait.INT_TYPE and rng.random() < 0.2:
        value = str(value)  # the API passes strings; the query converts them
    elif dtype == Trait.TEXT_TYPE and name == "project_id" and rng.random() < 0.5:
        value = rng.choice(PROJECTS)
    return {"key": name, API_TYPES[dtype]: value, "op": rng.choice(OPS)}


def random_query(
    rng: random.Random, message_ids: list[str], stored: Mapping[tuple[str, int], list[Any]]
) -> tuple[EventFilter, dict[str, Any]]:
    """A random EventFilter and pagination (sort, limit, marker among ``message_ids``).

    ``stored`` maps ``(trait name, dtype)`` to the values stored under them.
    """
    event_filter = EventFilter(
        start_timestamp=_bound(rng),
        end_timestamp=_bound(rng),
        event_type=rng.choice(EVENT_TYPES) if rng.random() < 0.2 else None,
        message_id=rng.choice(message_ids) if rng.random() < 0.05 else None,
        traits_filter=[trait_filter(rng, stored) for _ in range(rng.choice([0, 1, 1, 1, 2, 3]))],
        admin_proj=rng.choice([*PROJECTS, "nobody"]) if rng.random() < 0.3 else None,
    )
    keys = rng.sample(["generated", "message_id"], rng.randint(0, 2))
    pagination = {
        "sort": [(key, rng.choice(["asc", "desc"])) for key in keys],
        "limit": rng.choice([None, None, 1, 2, 5, 10]),
        "marker": rng.choice(message_ids) if rng.random() < 0.3 else None,
    }
    return event_filter, pagination
