"""Stdlib ``logging`` records as logbook-shaped dicts.

logbook's ``MessageQueueHandler`` publishes ``record.to_dict(json_safe=True)``;
the ticket pipeline reads that shape. :func:`from_logging` produces the same
shape from a :class:`logging.LogRecord`, with the level translated to
logbook's numbers, so stdlib applications feed the same tickets.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from typing import Any

from pipeline.convert.tickets import json_safe

#: stdlib level -> logbook level (logbook has NOTICE and TRACE in between).
_LOGBOOK_LEVELS = (
    (logging.CRITICAL, 15),
    (logging.ERROR, 14),
    (logging.WARNING, 13),
    (logging.INFO, 11),
    (logging.DEBUG, 10),
    (1, 9),
)

#: LogRecord attributes that are not user-supplied ``extra``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def logbook_level(levelno: int) -> int:
    """logbook's level number for a stdlib level number."""
    for stdlib, logbook in _LOGBOOK_LEVELS:
        if levelno >= stdlib:
            return logbook
    return 0


def format_iso8601(when: dt.datetime) -> str:
    """``when`` (UTC) as logbook writes it: ISO 8601 with a ``Z`` suffix."""
    return when.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    attributes = vars(record)
    # Most records have no extra: one set difference (in C) finds that out.
    names = {key for key in attributes.keys() - _STANDARD_ATTRIBUTES if not key.startswith("_")}
    if not names:
        return {}
    return {key: value for key, value in attributes.items() if key in names}


#: Values json_safe() returns as they are; anything else goes through it.
_PLAIN = frozenset((str, int, bool, type(None)))


def _safe(value: Any) -> Any:
    return value if type(value) in _PLAIN else json_safe(value)


def from_logging(record: logging.LogRecord) -> dict[str, Any]:
    """A JSON-safe logbook-shaped dict of ``record`` (as logbook's ``to_dict``)."""
    exc_type, exc_value, exc_tb = record.exc_info or (None, None, None)
    formatted = record.exc_text
    if exc_type is not None and not formatted:
        formatted = "".join(traceback.format_exception(exc_type, exc_value, exc_tb)).rstrip()
    # Called for every record a handler stores: only the values a caller can
    # set to anything go through json_safe (the rest are text made here).
    return {
        "channel": _safe(record.name),
        "msg": str(record.msg),
        "args": json_safe(record.args if isinstance(record.args, tuple) else [record.args]),
        "kwargs": {},
        "level": logbook_level(record.levelno),
        "extra": json_safe(_extra(record)),
        "process": _safe(record.process),
        "time": format_iso8601(dt.datetime.fromtimestamp(record.created, dt.UTC)),
        "filename": _safe(record.pathname),
        "message": record.getMessage(),
        "formatted_exception": _safe(formatted),
        "lineno": _safe(record.lineno),
        "module": _safe(record.module),
        "exception_name": (
            f"{exc_type.__module__}.{exc_type.__name__}" if exc_type is not None else None
        ),
        "exception_message": str(exc_value) if exc_value is not None else None,
        "func_name": _safe(record.funcName),
        "thread": _safe(record.thread),
        "thread_name": _safe(record.threadName),
        "process_name": _safe(record.processName),
    }
