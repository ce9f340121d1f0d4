"""stored_dict gives what logbook's JSON export and json_safe gave, one after the other."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import math
from typing import Any

import logbook
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.convert.logbook_dicts import stored_dict
from pipeline.convert.tickets import json_safe


class Text(str):
    pass


class Items(list):  # type: ignore[type-arg]
    pass


Point = collections.namedtuple("Point", "x y")

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.binary(max_size=4),
    st.decimals(allow_nan=False),
    st.builds(Text, st.text(max_size=4)),
    st.just(object()),
)
_keys = st.one_of(st.text(max_size=4), st.integers(), st.booleans(), st.none(), st.floats())
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.lists(inner, max_size=3).map(Items),
        st.builds(Point, inner, inner),
        st.dictionaries(_keys, inner, max_size=4),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(collections.OrderedDict),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=12,
)


def _record(extra: dict[Any, Any], args: tuple[Any, ...]) -> logbook.LogRecord:
    record = logbook.LogRecord("channel", logbook.ERROR, "message {0}", args=args, extra=extra)
    record.time = dt.datetime(2026, 12, 2, 12, 0, 0, 5)  # microsecond 5: logbook writes ".5"
    return record


def _same(left: Any, right: Any) -> bool:
    """Equal, counting NaN equal to NaN (json_safe turns NaN to text, but be exact)."""
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5), st.lists(_values, max_size=3).map(tuple))
def test_one_walk_equals_logbook_export_then_json_safe(extra: dict[Any, Any], args: Any) -> None:
    expected = json_safe(_record(extra, args).to_dict(json_safe=True))
    assert _same(stored_dict(_record(extra, args)), expected)


def test_the_edges_by_name() -> None:
    extra = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, 7),
        "nan": float("nan"),
        "inf": -math.inf,
        "tuple": (1, (2, Point(3, 4))),
        "set": {1},
        "bytes": b"x",
        "decimal": decimal.Decimal("1.5"),
        1: "int key",
        "nested": collections.OrderedDict(a=[Text("t")]),
    }
    stored = stored_dict(_record(extra, ()))
    assert stored["time"] == "2026-12-02T12:00:00.5Z"  # logbook's own format, kept
    assert stored["extra"] == {
        "when": "2026-01-02T03:04:05.7Z",
        "nan": "nan",
        "inf": "-inf",
        "tuple": [1, [2, [3, 4]]],
        "set": None,
        "bytes": None,
        "decimal": None,
        "1": "int key",
        "nested": {"a": ["t"]},
    }
    assert _same(stored, json_safe(_record(extra, ()).to_dict(json_safe=True)))
