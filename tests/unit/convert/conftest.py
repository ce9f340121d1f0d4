"""Helpers for converter tests: a minimal decoded notification."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.models import UTC

WHEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make_notification(event_type: str = "compute.instance.create.end", **payload: Any
                      ) -> dict[str, Any]:
    """A decoded notification (as decode_notification returns) with ``payload``."""
    return {
        "message_id": "m-1",
        "event_type": event_type,
        "publisher_id": "compute.node-01",
        "priority": "info",
        "timestamp": WHEN,
        "payload": payload,
        "_context_request_id": "req-1",
        "_context_project_id": "ctx-project",
        "_context_user_id": "ctx-user",
    }
