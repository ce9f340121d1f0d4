"""logbook records as the JSON-safe dicts tickets store, in one walk.

The queued handler stored a logbook record's data as
``json_safe(record.to_dict(json_safe=True))``: logbook's own export (its
datetimes as logbook formats them, objects it cannot export as None,
keys as text), then pipeline's rules on top (tuples as lists, so that
every driver reads back what was written; a NaN or infinite float as
text, which JSON cannot hold). :func:`stored_dict` gives the same dict
from ``record.to_dict()`` with one recursive walk instead of two; the
two agree on every value (tests compare them on generated records).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

_format_iso8601: Callable[[datetime], str] | None = None


def _iso8601(when: datetime) -> str:
    """``when`` as logbook's JSON export writes it (logbook's own formatter)."""
    global _format_iso8601
    if _format_iso8601 is None:  # logbook is imported only by those who log through it
        from logbook.helpers import format_iso8601

        _format_iso8601 = format_iso8601
    return _format_iso8601(when)


def stored_value(value: Any) -> Any:
    """``value`` as logbook's JSON export and then :func:`~pipeline.convert.tickets.json_safe`
    leave it."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is dict:
        return {
            key if type(key) is str else str(key): stored_value(item) for key, item in value.items()
        }
    if kind is list or kind is tuple:
        return [stored_value(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return _iso8601(value)
    if isinstance(value, (list, tuple)):
        return [stored_value(item) for item in value]
    if isinstance(value, dict):
        return {
            key if isinstance(key, str) else str(key): stored_value(item)
            for key, item in value.items()
        }
    return None  # logbook's export drops what it cannot write


def stored_dict(record: Any) -> dict[str, Any]:
    """The JSON-safe dict of logbook ``record`` that tickets store (see the module docstring)."""
    return stored_value(record.to_dict())  # type: ignore[no-any-return]
