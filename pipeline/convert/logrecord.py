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
    if when.tzinfo is not dt.UTC:
        when = when.astimezone(dt.UTC)
    return when.replace(tzinfo=None).isoformat() + "Z"


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    """The record's user-supplied attributes, JSON-safe."""
    attributes = vars(record)
    # Most records have no extra: one set difference (in C) finds that out.
    names = [key for key in attributes.keys() - _STANDARD_ATTRIBUTES if key[:1] != "_"]
    if not names:
        return {}
    if len(names) > 1:  # in the order they were set, as logbook's to_dict keeps them
        names = [key for key in attributes if key in names]
    return {key: json_safe(attributes[key]) for key in names}


#: Values json_safe() returns as they are; anything else goes through it.
_PLAIN = frozenset((str, int, bool, type(None)))


def _safe(value: Any) -> Any:
    return value if type(value) in _PLAIN else json_safe(value)


def from_logging(
    record: logging.LogRecord, message: str | None = None, when: dt.datetime | None = None
) -> dict[str, Any]:
    """A JSON-safe logbook-shaped dict of ``record`` (as logbook's ``to_dict``).

    ``message`` is the record's message when already formatted (else
    ``record.getMessage()``); ``when`` its time as an aware datetime when
    already made (else from ``record.created``).
    """
    exc_type, exc_value, exc_tb = record.exc_info or (None, None, None)
    formatted = record.exc_text
    if exc_type is not None and not formatted:
        formatted = "".join(traceback.format_exception(exc_type, exc_value, exc_tb)).rstrip()
    if when is None:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
    # Called for every record a handler stores: only the values a caller can
    # set to anything go through json_safe (the rest are text made here),
    # and only when one of them is not plain (one C-level check for all).
    values = (
        record.name,
        record.process,
        record.pathname,
        formatted,
        record.lineno,
        record.module,
        record.funcName,
        record.thread,
        record.threadName,
        record.processName,
    )
    if not _PLAIN.issuperset(map(type, values)):
        values = tuple(map(_safe, values))
    name, process, pathname, formatted, lineno, module, func, thread, thread_name, process_name = (
        values
    )
    args = record.args
    return {
        "channel": name,
        "msg": str(record.msg),
        "args": json_safe(args if isinstance(args, tuple) else [args]),
        "kwargs": {},
        "level": logbook_level(record.levelno),
        "extra": _extra(record),  # JSON-safe already
        "process": process,
        "time": format_iso8601(when),
        "filename": pathname,
        "message": record.getMessage() if message is None else message,
        "formatted_exception": formatted,
        "lineno": lineno,
        "module": module,
        "exception_name": (
            f"{exc_type.__module__}.{exc_type.__name__}" if exc_type is not None else None
        ),
        "exception_message": str(exc_value) if exc_value is not None else None,
        "func_name": func,
        "thread": thread,
        "thread_name": thread_name,
        "process_name": process_name,
    }
