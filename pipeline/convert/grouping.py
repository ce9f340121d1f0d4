"""Grouping keys: which log records belong to the same ticket.

A key is the hex SHA-1 of some fields of a record (a logbook-shaped dict)
and a salt. Strategies, chosen by ``[ticketing] grouping``:

``logbook``
    exactly logbook's ``TicketingBaseHandler.hash_record_raw``: level,
    channel, file name and line, then the salt. Existing logbook databases
    keep their tickets, but the absolute file name makes the same code
    installed under two prefixes two tickets.
``location`` (default)
    the same idea with a portable file name (:func:`portable_path`) and the
    function name, so every host running the same code groups together.
``template``
    channel, level, exception type and the message with its variable parts
    masked (:func:`mask_message`): one ticket per kind of message wherever it
    is logged from.

A record whose ``extra`` carries ``fingerprint`` (a list of strings) is
grouped by that list alone, whatever the strategy. Everything here is pure.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.exceptions import ConversionError

if TYPE_CHECKING:
    from _hashlib import HASH

STRATEGIES = ("location", "logbook", "template")
DEFAULT_STRATEGY = "location"
_PACKAGE_ROOTS = ("site-packages", "dist-packages")

# Order matters: wider shapes are masked before the numbers inside them.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE), "<url>"),
    (
        re.compile(
            r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.IGNORECASE
        ),
        "<uuid>",
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    # IPv6 needs "::" or all eight groups, so times like 10:30:00 stay numbers.
    (
        re.compile(
            r"(?<![\w:])(?=[0-9a-f:]*::|(?:[0-9a-f]{1,4}:){7})"
            r"(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])",
            re.IGNORECASE,
        ),
        "<ip>",
    ),
    (re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""), "<str>"),
    (
        re.compile(r"(?:\b[a-z]:)?(?:[\\/][\w.@+-]+){2,}[\\/]?|~[\\/][\w.@+/\\-]+", re.IGNORECASE),
        "<path>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"[-+]?\b\d+(?:[.,]\d+)*(?:e[-+]?\d+)?"), "<num>"),
)


def default_salt(app_id: str) -> str:
    """The salt used when none is configured: derived from the app id as logbook does."""
    return "apphash-" + app_id


def _digest(parts: list[bytes], salt: str | None) -> HASH:
    sha = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        sha.update(part)
    if salt is not None:
        sha.update(b"\x00" + salt.encode("utf-8"))
    return sha


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value)


def _level(record: Mapping[str, Any]) -> int:
    level = record.get("level")
    if isinstance(level, bool) or not isinstance(level, int):
        raise ConversionError(f"record level must be an integer, got {level!r}")
    return level


def _lineno(record: Mapping[str, Any]) -> int:
    lineno = record.get("lineno")
    if lineno is None:
        return 0
    if isinstance(lineno, bool) or not isinstance(lineno, int):
        raise ConversionError(f"record lineno must be an integer, got {lineno!r}")
    return lineno


def logbook_hash(record: Mapping[str, Any], salt: str | None) -> HASH:
    """What logbook's ``hash_record_raw(record)`` returns, bit for bit."""
    return _digest(
        [
            b"%d\x00" % _level(record),
            _text(record, "channel").encode("utf-8") + b"\x00",
            _text(record, "filename").encode("utf-8") + b"\x00",
            str(_lineno(record)).encode("utf-8"),
        ],
        salt,
    )


@functools.lru_cache(maxsize=4096)  # a process logs from a bounded set of files
def portable_path(filename: str, module: str | None) -> str:
    """``filename`` without the part that depends on where the code is installed.

    The path after the last ``site-packages``/``dist-packages`` directory;
    else as many trailing components as the dotted ``module`` name has
    (one more for a package's ``__init__``); else the base name.
    """
    parts = [part for part in re.split(r"[\\/]", filename) if part]
    if not parts:
        return ""
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in _PACKAGE_ROOTS and index + 1 < len(parts):
            return "/".join(parts[index + 1 :])
    depth = 1
    if module and module != "__main__" and "." in module:
        depth = module.count(".") + 1
        if parts[-1].startswith("__init__."):
            depth += 1
    return "/".join(parts[-depth:])


def location_hash(record: Mapping[str, Any], salt: str | None) -> HASH:
    """Key of channel, level, portable file name, function and line."""
    path = portable_path(_text(record, "filename"), record.get("module"))
    fields = [
        "location",
        _text(record, "channel"),
        str(_level(record)),
        path,
        _text(record, "func_name"),
        str(_lineno(record)),
    ]
    return _digest(["\x00".join(fields).encode("utf-8")], salt)


def mask_message(message: str) -> str:
    """``message`` with URLs, UUIDs, IPs, quoted strings, paths, hex and numbers masked."""
    for pattern, replacement in _MASKS:
        message = pattern.sub(replacement, message)
    return message


def template_hash(record: Mapping[str, Any], salt: str | None) -> HASH:
    """Key of channel, level, exception type and the masked message."""
    message = _text(record, "message") or _text(record, "msg")
    if not message:
        message = _text(record, "exception_message")
    fields = [
        "template",
        _text(record, "channel"),
        str(_level(record)),
        _text(record, "exception_name"),
        mask_message(message),
    ]
    return _digest(["\x00".join(fields).encode("utf-8")], salt)


def fingerprint_hash(fingerprint: Any, salt: str | None) -> HASH:
    """Key of an explicit fingerprint: a non-empty list of strings."""
    if isinstance(fingerprint, str) or not isinstance(fingerprint, (list, tuple)):
        raise ConversionError(
            f"extra['fingerprint'] must be a list of strings, got {fingerprint!r}"
        )
    if not fingerprint or not all(isinstance(item, str) for item in fingerprint):
        raise ConversionError(
            f"extra['fingerprint'] must be a non-empty list of strings, got {fingerprint!r}"
        )
    fields = ["fingerprint", *fingerprint]
    return _digest(["\x00".join(fields).encode("utf-8")], salt)


_STRATEGY_FUNCTIONS: dict[str, Callable[[Mapping[str, Any], str | None], HASH]] = {
    "logbook": logbook_hash,
    "location": location_hash,
    "template": template_hash,
}


def grouping_hash(
    record: Mapping[str, Any], salt: str | None, strategy: str = DEFAULT_STRATEGY
) -> HASH:
    """The SHA-1 object of ``record``'s grouping under ``strategy`` and ``salt``.

    ``extra['fingerprint']`` overrides the strategy. Raises
    :class:`ConversionError` for an unknown strategy or malformed fields.
    """
    extra = record.get("extra")
    if isinstance(extra, Mapping) and extra.get("fingerprint") is not None:
        return fingerprint_hash(extra["fingerprint"], salt)
    try:
        function = _STRATEGY_FUNCTIONS[strategy]
    except KeyError:
        raise ConversionError(
            f"unknown grouping {strategy!r}; use one of {', '.join(STRATEGIES)}"
        ) from None
    return function(record, salt)


def grouping_key(
    record: Mapping[str, Any], salt: str | None, strategy: str = DEFAULT_STRATEGY
) -> str:
    """The grouping key of ``record``: :func:`grouping_hash` as hex text."""
    return grouping_hash(record, salt, strategy).hexdigest()
