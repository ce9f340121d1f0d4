"""decode_notification: v1, v2 and plain JSON bodies; every bad body is a DecodeError."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.convert import decode_notification
from pipeline.exceptions import DecodeError
from pipeline.models import UTC

V1: dict[str, Any] = {
    "message_id": "9f0d4c9e-1a5b-4bb1-9d2c-5d6c1f0e2a11",
    "publisher_id": "compute.node-01",
    "event_type": "compute.instance.create.end",
    "priority": "INFO",
    "payload": {"instance_id": "i-1", "memory_mb": 512},
    "timestamp": "2026-11-23 10:00:00.123456",
    "_context_request_id": "req-1",
    "_unique_id": "0b7f",
}
WHEN = dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def v2(message: dict[str, Any]) -> dict[str, Any]:
    return {"oslo.version": "2.0", "oslo.message": json.dumps(message)}


@pytest.mark.parametrize("body", [
    json.dumps(V1).encode(), json.dumps(V1), dict(V1),
    json.dumps(v2(V1)).encode(), json.dumps(v2(V1)), v2(V1),
    bytearray(json.dumps(V1).encode()),
], ids=["v1-bytes", "v1-text", "v1-dict", "v2-bytes", "v2-text", "v2-dict", "bytearray"])
def test_v1_and_v2_bodies_decode_to_the_same_notification(body: Any) -> None:
    notification = decode_notification(body)
    assert notification["message_id"] == V1["message_id"]
    assert notification["event_type"] == "compute.instance.create.end"
    assert notification["publisher_id"] == "compute.node-01"
    assert notification["priority"] == "info"
    assert notification["payload"] == {"instance_id": "i-1", "memory_mb": 512}
    assert notification["timestamp"] == WHEN
    assert notification["_context_request_id"] == "req-1"
    assert "oslo.message" not in notification


def test_plain_json_without_priority_publisher_or_payload_gets_defaults() -> None:
    body = {"message_id": "m", "event_type": "custom.thing", "timestamp": "2026-11-23T10:00:00Z"}
    notification = decode_notification(json.dumps(body))
    assert notification["priority"] == "info"
    assert notification["publisher_id"] is None
    assert notification["payload"] == {}
    assert notification["timestamp"] == dt.datetime(2026, 11, 23, 10, tzinfo=UTC)


def test_callers_dict_is_not_modified() -> None:
    original = dict(V1)
    decode_notification(original)
    assert original == V1


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-23 10:00:00.123456", WHEN),
    ("2026-11-23T10:00:00.123456", WHEN),
    ("2026-11-23T10:00:00.123456Z", WHEN),
    ("2026-11-23T12:00:00.123456+02:00", WHEN),
    ("2026-11-23 10:00:00.123456+00:00", WHEN),
    ("2026-11-23T10:00:00", WHEN.replace(microsecond=0)),
])
def test_timestamps_become_aware_utc(text: str, expected: dt.datetime) -> None:
    stamp = decode_notification({**V1, "timestamp": text})["timestamp"]
    assert stamp == expected
    assert stamp.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("body", "problem"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe\xfa", "not valid UTF-8"),
    (b"[1, 2]", "JSON list, not an object"),
    (b'"text"', "JSON str, not an object"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (42, "must be bytes, text or a dict"),
    (None, "must be bytes, text or a dict"),
    ({**V1, "message_id": None}, "no message_id"),
    ({k: v for k, v in V1.items() if k != "message_id"}, "no message_id"),
    ({**V1, "message_id": 17}, "message_id must be non-empty text"),
    ({**V1, "message_id": ""}, "message_id must be non-empty text"),
    ({k: v for k, v in V1.items() if k != "event_type"}, "no event_type"),
    ({**V1, "event_type": ["a"]}, "event_type must be non-empty text"),
    ({k: v for k, v in V1.items() if k != "timestamp"}, "no timestamp"),
    ({**V1, "timestamp": "yesterday"}, "bad notification timestamp"),
    ({**V1, "timestamp": 1764000000}, "timestamp must be text"),
    ({**V1, "timestamp": "0001-01-01T00:00:00+01:00"}, "bad notification timestamp"),
    ({**V1, "priority": 3}, "priority must be text"),
    ({**V1, "publisher_id": {"a": 1}}, "publisher_id must be text"),
    ({"oslo.version": "3.0", "oslo.message": json.dumps(V1)}, "unsupported oslo.version"),
    ({"oslo.version": "2.0", "oslo.message": V1}, "without an oslo.message JSON string"),
    ({"oslo.version": "2.0", "oslo.message": "{bad"}, "oslo.message is not JSON"),
    ({"oslo.version": "2.0", "oslo.message": "[]"}, "oslo.message is JSON list"),
])
def test_bad_bodies_raise_decode_error_naming_the_problem(body: Any, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        decode_notification(body)


def _decodes_or_rejects(body: Any) -> None:
    try:
        notification = decode_notification(body)
    except DecodeError:
        return
    assert isinstance(notification, dict)
    assert isinstance(notification["message_id"], str)
    assert isinstance(notification["event_type"], str)
    assert notification["timestamp"].tzinfo is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_values = json_values | st.sampled_from(
    ["2026-11-23 10:00:00", "2026-11-23T10:00:00Z", "9999-12-31T23:59:59-01:00", "x", ""])
notification_like = st.fixed_dictionaries({}, optional={
    "message_id": field_values, "event_type": field_values, "timestamp": field_values,
    "priority": field_values, "publisher_id": field_values, "payload": json_values,
})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_notification_or_decode_error(body: bytes) -> None:
    _decodes_or_rejects(body)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_json_gives_a_notification_or_decode_error(value: Any) -> None:
    _decodes_or_rejects(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(notification_like, st.booleans())
def test_notification_shaped_json_gives_a_notification_or_decode_error(
    body: dict[str, Any], wrap: bool
) -> None:
    _decodes_or_rejects(json.dumps(v2(body) if wrap else body).encode())
