"""Test doubles of our own converter interface (never of a third-party library).

Until the real notification converter is used here, ``decode`` and
``SimpleConverter`` stand for :func:`pipeline.convert.decode_notification`
and :class:`pipeline.convert.EventConverter`: JSON in, one Event per
notification with a ``service`` trait; ``event_type`` ``drop.*`` is
unmatched, a payload with ``"bad": true`` is unconvertible.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from pipeline.consume.batch import Translator
from pipeline.convert.tickets import decode_log_record, notification_record, ticket_record
from pipeline.exceptions import ConversionError, DecodeError
from pipeline.models import Event, Trait


def decode(body: Any) -> dict[str, Any]:
    try:
        notification = json.loads(body)
    except ValueError as err:
        raise DecodeError(f"not JSON: {err}") from None
    if not isinstance(notification, dict) or "message_id" not in notification:
        raise DecodeError("not a notification")
    notification.setdefault("priority", "info")
    return notification


class SimpleConverter:
    def to_event(self, notification: dict[str, Any]) -> Event | None:
        if notification["event_type"].startswith("drop."):
            return None
        if notification.get("payload", {}).get("bad"):
            raise ConversionError("payload marked bad")
        return Event(
            notification["message_id"],
            notification["event_type"],
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            (Trait("service", Trait.TEXT_TYPE, notification.get("publisher_id", "x")),),
        )


def translator() -> Translator:
    return Translator(
        decode_notification=decode,
        converter=SimpleConverter(),
        decode_log_record=decode_log_record,
        make_ticket=functools.partial(ticket_record, app_id="test"),
        notification_record=notification_record,
    )


def notification(message_id: str, event_type: str = "compute.instance.create.end",
                  priority: str = "info", **payload: Any) -> bytes:
    return json.dumps({
        "message_id": message_id, "event_type": event_type, "priority": priority,
        "publisher_id": "compute.host1", "timestamp": "2026-01-01T00:00:00Z",
        "payload": payload,
    }).encode()


def log_record(message: str = "boom", lineno: int = 10) -> bytes:
    return json.dumps({
        "channel": "app", "level": 14, "message": message, "time": "2026-01-01T00:00:00Z",
        "module": "app.mod", "func_name": "f", "filename": "app/mod.py", "lineno": lineno,
    }).encode()
