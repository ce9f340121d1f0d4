"""Log records into ticket records: decoding, grouping, the occurrence data.

A log record is a logbook-shaped dict (what logbook's ``MessageQueueHandler``
publishes: ``channel``, ``level``, ``message``, ``filename``, ``lineno``,
``module``, ``func_name``, ``time``, ``exception_name``, ``extra`` ...).
Levels use logbook's numbers (:data:`LEVELS`). Everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pipeline.convert.grouping import DEFAULT_STRATEGY, default_salt, grouping_key, portable_path
from pipeline.exceptions import ConversionError, DecodeError, NotANotification
from pipeline.models import TicketRecord, parse_datetime

#: logbook's level numbers by name.
LEVELS = {
    "CRITICAL": 15,
    "ERROR": 14,
    "WARNING": 13,
    "NOTICE": 12,
    "INFO": 11,
    "DEBUG": 10,
    "TRACE": 9,
    "NOTSET": 0,
}
_PRIORITY_LEVELS = {
    "critical": 15,
    "error": 14,
    "warn": 13,
    "warning": 13,
    "info": 11,
    "audit": 11,
    "debug": 10,
    "sample": 10,
}


_LOGBOOK_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{1,5})Z\Z")


def decode_log_record(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The log record dict of a message body (logbook JSON); DecodeError otherwise.

    A body that parses but is not a log record raises the subclass
    :class:`~pipeline.exceptions.NotANotification`.
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DecodeError(f"log record is not UTF-8: {err}") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as err:
            raise DecodeError(f"log record is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise NotANotification(f"log record must be a JSON object, got {type(body).__name__}")
    if "level" not in body or "time" not in body:
        raise NotANotification("log record lacks 'level' or 'time'")
    return body


def json_safe(value: Any) -> Any:
    """``value`` as JSON-safe data: datetimes as ISO text, unknown objects as repr()."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is dict:  # before the Mapping check below, which is slow for a plain dict
        return {str(key): json_safe(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [json_safe(item) for item in value]
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def _level(value: Any) -> int:
    if isinstance(value, str) and value.upper() in LEVELS:
        return LEVELS[value.upper()]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConversionError(f"record level must be an integer or level name, got {value!r}")
    return value


def _time(record: Mapping[str, Any]) -> dt.datetime:
    """The record's time; logbook's unpadded microseconds read as logbook meant them.

    logbook's ``format_iso8601`` writes ``"." + str(microsecond)``, so 5,000
    microseconds become ``.5000``, which ISO 8601 reads as half a second. A
    record exported by logbook's ``to_dict`` (it carries
    ``information_pulled``) with fewer than six fraction digits is read as
    logbook wrote it.
    """
    value = record.get("time")
    try:
        if isinstance(value, str) and "information_pulled" in record:
            found = _LOGBOOK_TIME.match(value)
            if found:
                return parse_datetime(found[1] + "Z").replace(microsecond=int(found[2]))
        return parse_datetime(value)
    except ValueError as err:
        raise ConversionError(f"record time: {err}") from None


def _app_id(record: Mapping[str, Any], default: str) -> str:
    extra = record.get("extra")
    found = extra.get("app_id") if isinstance(extra, Mapping) else None
    found = found or record.get("app_id")
    return found if isinstance(found, str) and found else default


def ticket_record(
    record: Mapping[str, Any],
    *,
    app_id: str,
    salt: str | None = None,
    grouping: str = DEFAULT_STRATEGY,
    occurrence_key: str | None = None,
) -> TicketRecord:
    """Group one log record: its key, ticket fields and occurrence data.

    ``app_id`` applies when the record carries none (in ``extra['app_id']``
    or ``app_id``). ``salt`` None derives the salt from the app id as
    logbook does. ``occurrence_key`` is the identity of this delivery of
    the record (:attr:`TicketRecord.occurrence_key`), passed through. Raises :class:`ConversionError` for a record that cannot
    be grouped (bad level, time, fingerprint or strategy).
    """
    if not isinstance(record, Mapping):
        raise ConversionError(f"log record must be a mapping, got {type(record).__name__}")
    effective_app = _app_id(record, app_id)
    level = _level(record.get("level"))
    normalised = {**record, "level": level}
    key = grouping_key(normalised, default_salt(effective_app) if salt is None else salt, grouping)
    filename = str(record.get("filename") or "")
    lineno = record.get("lineno") or 0
    if grouping != "logbook":
        filename = portable_path(filename, record.get("module"))
    module = record.get("module")
    return TicketRecord(
        record_hash=key,
        app_id=effective_app,
        time=_time(record),
        level=level,
        channel=str(record.get("channel") or ""),
        location=f"{filename}:{lineno}",
        module=str(module) if module else "<unknown>",
        data=json_safe(normalised),
        occurrence_key=occurrence_key,
    )


def _exception_info(payload: Any) -> tuple[str, str]:
    """(type, message) of the exception an error notification's payload describes."""
    candidates = [payload]
    if isinstance(payload, Mapping):
        data = payload.get("nova_object.data", payload)
        candidates.append(data)
        fault = data.get("fault") if isinstance(data, Mapping) else None
        if isinstance(fault, Mapping):
            candidates.append(fault.get("nova_object.data", fault))
    for candidate in reversed(candidates):
        if not isinstance(candidate, Mapping) or "exception" not in candidate:
            continue
        exception = candidate["exception"]
        message = candidate.get("exception_message") or candidate.get("message") or ""
        if isinstance(exception, Mapping):
            return str(exception.get("class") or exception.get("type") or ""), str(message)
        name, sep, rest = str(exception).partition(":")
        if sep and name.isidentifier():
            return name, str(message or rest.strip())
        if name.isidentifier():
            return name, str(message)
        return "", str(message or exception)
    return "", ""


def notification_record(notification: Mapping[str, Any]) -> dict[str, Any]:
    """An error notification (decoded) as a log record dict.

    Grouped, through ``extra['fingerprint']``, by the publishing service
    (``publisher_id`` without its host part), the event type and the
    exception type, so one failure on many hosts is one ticket.
    """
    publisher = str(notification.get("publisher_id") or "")
    event_type = str(notification.get("event_type") or "")
    priority = str(notification.get("priority") or "error").lower()
    exception_name, exception_message = _exception_info(notification.get("payload"))
    timestamp = notification.get("timestamp")
    if isinstance(timestamp, dt.datetime):
        timestamp = timestamp.isoformat()
    return {
        "channel": publisher,
        "level": _PRIORITY_LEVELS.get(priority, LEVELS["ERROR"]),
        "message": exception_message or event_type,
        "time": timestamp,
        "module": event_type,
        "func_name": None,
        "filename": "",
        "lineno": 0,
        "exception_name": exception_name or None,
        "exception_message": exception_message or None,
        "extra": {
            "fingerprint": [publisher.split(".", 1)[0], event_type, exception_name],
            "message_id": notification.get("message_id"),
            "payload": json_safe(notification.get("payload")),
        },
    }
