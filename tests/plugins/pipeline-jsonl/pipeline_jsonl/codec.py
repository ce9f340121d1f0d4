"""One event <-> one JSON line, without losing trait types.

A line is ``{"message_id", "event_type", "generated", "traits", "raw"}``
where ``traits`` is a list of ``[name, dtype, value]`` and datetimes
(``generated`` and datetime trait values) are ISO 8601 strings in UTC.
Values are converted back with :meth:`pipeline.models.Trait.convert_value`,
so an event read back compares equal to the event written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pipeline.models import Event, Trait, parse_datetime


def _json_default(value: Any) -> Any:
    # raw notifications may carry parsed timestamps; keep them readable.
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(event: Event) -> str:
    """The JSON line (with its newline) that stores ``event``."""
    traits = [
        [t.name, t.dtype, t.value.isoformat() if t.dtype == Trait.DATETIME_TYPE else t.value]
        for t in event.traits
    ]
    record = {
        "message_id": event.message_id,
        "event_type": event.event_type,
        "generated": event.generated.isoformat(),
        "traits": traits,
        "raw": event.raw,
    }
    return json.dumps(record, default=_json_default, separators=(",", ":")) + "\n"


def decode(line: str) -> Event:
    """The event stored in ``line``; ValueError when the line is damaged."""
    try:
        record = json.loads(line)
        traits = tuple(
            Trait(name, dtype, Trait.convert_value(dtype, value))
            for name, dtype, value in record["traits"]
        )
        return Event(
            record["message_id"],
            record["event_type"],
            parse_datetime(record["generated"]),
            traits,
            record.get("raw"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"damaged event line: {err}") from None
