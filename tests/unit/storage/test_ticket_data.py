"""check_record's JSON of ticket data: json's refusals and text, on both of its paths."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Any

import pytest

from pipeline.models import TicketRecord
from pipeline.storage.limits import MAX_TICKET_DATA_BYTES
from pipeline.storage.ticket_batch import check_record

T0 = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ERROR = 40


def _record(data: Any) -> TicketRecord:
    return TicketRecord("hash", "app", T0, 40, "channel", "file.py:1", "module", data)


def _circular() -> dict[str, Any]:
    data: dict[str, Any] = {}
    data["self"] = data
    return data


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        [1.0, float("nan")],
        {1, 2},
        frozenset(),
        b"bytes",
        bytearray(b"x"),
        T0,
        T0.date(),
        dt.timedelta(1),
        decimal.Decimal("1.5"),
        uuid.UUID(int=0),
        Colour.RED,
        object(),
    ],
    ids=lambda value: type(value).__name__,
)
def test_what_json_refuses_is_refused(value: Any) -> None:
    """msgspec would write these (a NaN as null, a set as a list, a datetime
    as text); a ticket's data keeps json's rule and refuses them."""
    with pytest.raises(ValueError, match="not JSON-safe"):
        check_record(_record({"value": value, "nested": [{"value": value}]}))


def test_circular_data_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON-safe"):
        check_record(_record(_circular()))


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"message": "disk full", "args": [1, 2.5, None, True, False], "extra": {"a": {"b": []}}},
        {"text": "naïve ☃ 日本語 \U0001f600", "control": "a\x00b\n\t\x7f", "quote": '"\\'},
        {"big": 2**70, "negative": -(2**63) - 1, "float": 1e300, "small": 5e-324, "zero": -0.0},
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
        {"tuple": (1, (2, 3))},
        collections.OrderedDict(b=1, a=2),
        {"level": Level.ERROR},
        {"surrogate": "\ud800 alone"},
    ],
    ids=lambda data: ",".join(map(str, data)) or "empty",
)
def test_data_reads_back_as_json_writes_it(data: dict[Any, Any]) -> None:
    """Whichever path encodes it, the stored text reads back as json's own."""
    text = check_record(_record(data))
    assert json.loads(text) == json.loads(json.dumps(data))


def test_the_size_limit_counts_utf8_bytes_on_both_paths() -> None:
    overhead = len('{"t":""}')
    exactly = {"t": "é" * ((MAX_TICKET_DATA_BYTES - overhead) // 2)}
    assert len(check_record(_record(exactly)).encode()) <= MAX_TICKET_DATA_BYTES
    with pytest.raises(ValueError, match="bytes of JSON"):
        check_record(_record({"t": "é" * ((MAX_TICKET_DATA_BYTES - overhead) // 2 + 1)}))
    with pytest.raises(ValueError, match="bytes of JSON"):  # json's path (a tuple)
        check_record(_record({"t": ("é" * ((MAX_TICKET_DATA_BYTES - overhead) // 2 + 1),)}))
