"""How the tickets page shows things: relative times, sparklines, messages.

Pure functions of their arguments (the caller passes ``now``), so the page's
text is testable without a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

HOURS = 24
_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def ago(when: dt.datetime, now: dt.datetime) -> str:
    """``when`` relative to ``now``: "just now", "3 minutes ago", "in 2 hours"."""
    seconds = int((now - when).total_seconds())
    later = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if later else f"{text} ago"
    raise AssertionError("unreachable: 60 s matches the minute unit")


def hourly_counts(times: Iterable[dt.datetime], now: dt.datetime, hours: int = HOURS) -> list[int]:
    """Occurrences per hour over the last ``hours`` hours, oldest hour first."""
    counts = [0] * hours
    for when in times:
        age = (now - when).total_seconds()
        if 0 <= age < hours * 3600:
            counts[hours - 1 - int(age // 3600)] += 1
    return counts


def sparkline(counts: list[int], width: int = 96, height: int = 20) -> str:
    """The ``points`` of an SVG polyline drawing ``counts`` in a width x height box.

    The highest count touches the top; an all-zero series is a flat line at
    the bottom.
    """
    top = max(counts, default=0) or 1
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{height - 1 - (height - 2) * count / top:.1f}"
        for index, count in enumerate(counts)
    )


def message_of(data: Mapping[str, Any]) -> str:
    """The one-line message of an occurrence's record data."""
    message = data.get("message") or data.get("msg") or data.get("exception_message") or ""
    text = str(message).strip()
    return text.splitlines()[0] if text else "(no message)"


def exception_of(data: Mapping[str, Any]) -> str | None:
    """The formatted exception (traceback) of an occurrence, if it carries one."""
    for key in ("formatted_exception", "exc_text", "traceback"):
        value = data.get(key)
        if value:
            return str(value)
    name = data.get("exception_name")
    if name:
        return f"{name}: {data.get('exception_message') or ''}".rstrip(": ")
    return None
