"""decode_notification parses with a fast parser but accepts exactly what json does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from pipeline.convert import decode_notification
from pipeline.exceptions import DecodeError

HEAD = '"message_id": "m", "event_type": "e", "timestamp": "2026-11-25 16:00:00", '


@pytest.mark.parametrize(
    "payload",
    [
        "NaN",
        "-Infinity",
        "1e400",
        "123456789012345678901234567890",
        "-9223372036854775809",
        "18446744073709551616",
        '"\\ud800 lone surrogate"',
        '{"a": 1, "a": 2}',
        "0.1000000000000000055511151231257827",
        "-0.0",
        "1E2",
    ],
)
def test_payload_values_are_what_json_gives(payload: str) -> None:
    body = "{" + HEAD + '"payload": ' + payload + "}"
    expected = json.loads(body)["payload"]
    for wire in (body.encode(), body, json.dumps({"oslo.version": "2.0", "oslo.message": body})):
        got = decode_notification(wire)["payload"]
        assert repr(got) == repr(expected)
        assert type(got) is type(expected)
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(got)


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8-sig"),
        lambda text: text.encode("utf-16"),
        lambda text: text.encode("utf-32"),
    ],
)
def test_encodings_json_detects_are_accepted(encode: Any) -> None:
    body = "{" + HEAD + '"payload": {"x": "é"}}'
    assert decode_notification(encode(body))["payload"] == {"x": "é"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"message_id": "m"} trailing', "is not JSON: Extra data"),
        (b"\xff\xfe\xfa", "not valid UTF-8|is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not an object"),
        (b'{"a": "\x01"}', "Invalid control character"),
    ],
)
def test_errors_keep_the_standard_librarys_messages(body: bytes, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        decode_notification(body)
