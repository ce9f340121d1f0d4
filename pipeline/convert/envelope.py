"""Message bodies → notification dicts (oslo.messaging v1, v2, plain JSON).

On the wire, oslo.messaging sends a notification either as the notification
dict itself (v1: ``message_id``, ``publisher_id``, ``event_type``,
``priority``, ``payload``, ``timestamp``, the request context flattened into
``_context_*`` keys, ``_unique_id``) or wrapped (v2: ``{"oslo.version":
"2.0", "oslo.message": "<the v1 dict as a JSON string>"}``). Other publishers
may send the dict as plain JSON. :func:`decode_notification` accepts all
three, as bytes, text or an already parsed dict.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec

from pipeline.exceptions import DecodeError, NotANotification
from pipeline.models import parse_datetime

_V2_VERSIONS = frozenset({"2.0"})
_FAST = msgspec.json.Decoder()


def decode_notification(body: bytes | bytearray | str | dict[str, Any]) -> dict[str, Any]:
    """Return the notification dict carried by ``body``.

    The result is a new dict (the caller's dict is not modified) holding every
    key of the notification, with:

    - ``message_id``: required, non-empty text. Storage is idempotent by
      message id, so a notification without one is rejected rather than
      given an invented id.
    - ``event_type``: required, non-empty text.
    - ``timestamp``: required; text in oslo's form (``2026-11-23
      10:00:00.123456``, naive = UTC) or ISO 8601 with an offset, or a
      datetime; returned as an aware UTC datetime.
    - ``priority``: lower-cased text; ``info`` when absent.
    - ``publisher_id``: text, or None when absent.
    - ``payload``: as sent (usually a dict); ``{}`` when absent.

    Raises :class:`~pipeline.exceptions.DecodeError`, whose message names the
    problem, for anything else (not JSON, not a dict, a v2 envelope whose
    message is not a JSON dict, a missing or ill-typed field, a bad
    timestamp); of these, a body that parses as JSON but is not a
    notification raises the subclass
    :class:`~pipeline.exceptions.NotANotification`. No other exception
    escapes, whatever the input.
    """
    data = _parse(body, "body")
    if "oslo.version" in data or "oslo.message" in data:
        return _normalise(_unwrap_v2(data))
    # A dict we parsed ourselves is ours to fill in; the caller's is copied.
    return _normalise(dict(data) if data is body else data)


def _parse(body: Any, what: str) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, str):
        raise DecodeError(f"{what} must be bytes, text or a dict, not {type(body).__name__}")
    try:
        # msgspec parses a notification two to three times faster. It
        # refuses some input the standard library accepts (NaN, Infinity,
        # lone surrogates, a BOM, UTF-16); that is parsed again by json, so
        # what is accepted, and every error message, stays the standard
        # library's. Both give the same values for what both accept.
        data = _FAST.decode(body)
    except (ValueError, RecursionError):
        data = _parse_slowly(body, what)
    if not isinstance(data, dict):
        raise NotANotification(f"{what} is JSON {type(data).__name__}, not an object")
    return data


def _parse_slowly(body: bytes | str, what: str) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError as err:
        raise DecodeError(f"{what} is not valid UTF-8 text: {err.reason}") from None
    except ValueError as err:
        raise DecodeError(f"{what} is not JSON: {err}") from None
    except RecursionError:
        raise DecodeError(f"{what} is JSON nested too deeply") from None


def _unwrap_v2(envelope: dict[str, Any]) -> dict[str, Any]:
    version = envelope.get("oslo.version")
    if version not in _V2_VERSIONS:
        raise NotANotification(f"unsupported oslo.version {version!r} (expected '2.0')")
    message = envelope.get("oslo.message")
    if not isinstance(message, str):
        raise NotANotification("v2 envelope without an oslo.message JSON string")
    return _parse(message, "oslo.message")


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        raise NotANotification(f"notification has no {key}")
    if not isinstance(value, str) or not value:
        raise NotANotification(f"notification {key} must be non-empty text, not {value!r:.80}")
    return value


def _timestamp(value: Any) -> dt.datetime:
    if value is None:
        raise NotANotification("notification has no timestamp")
    if not isinstance(value, (str, dt.datetime)):
        raise NotANotification(f"notification timestamp must be text, not {value!r:.80}")
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError):
        raise NotANotification(f"bad notification timestamp {value!r:.80}") from None


def _normalise(notification: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise the fields in place (the dict is ours)."""
    notification["message_id"] = _text(notification, "message_id")
    notification["event_type"] = _text(notification, "event_type")
    notification["timestamp"] = _timestamp(notification.get("timestamp"))
    priority = notification.get("priority")
    if priority is None:
        priority = "info"
    if not isinstance(priority, str):
        raise NotANotification(f"notification priority must be text, not {priority!r:.80}")
    notification["priority"] = priority.lower()
    publisher = notification.get("publisher_id")
    if publisher is not None and not isinstance(publisher, str):
        raise NotANotification(f"notification publisher_id must be text, not {publisher!r:.80}")
    notification["publisher_id"] = publisher
    notification.setdefault("payload", {})
    return notification
