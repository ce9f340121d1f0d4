"""Field paths of trait definitions, compiled once for fast lookups.

A field is a JSONPath expression evaluated against the notification dict
(``payload.instance_id``, ``publisher_id``, ``payload.fixed_ips[0].address``,
``payload.glance_metadata[?key='image_id'].value``). Almost all real fields
are plain dotted paths; those are resolved with direct dict and list lookups,
which is two orders of magnitude faster than evaluating a JSONPath. Everything
else goes to jsonpath-ng's extended parser (filters, ``split``, wildcards).
Both give the same matches: a plain path matches at most one value, walking
only into dicts (by key) and lists (by non-negative index).

Paths may also use Ceilometer's names (:mod:`pipeline.convert.ceilometer_view`):
``ctxt.<key>…`` reads ``_context_<key>…`` and ``metadata.message_id`` /
``metadata.timestamp`` read ``message_id`` / ``timestamp``. Plain ones are
rewritten to direct lookups when compiled, so they cost what the
``_context_`` paths cost; JSONPath expressions naming ``ctxt`` or
``metadata`` are evaluated on a view built for them. A plugin sees the
match under the path as written (``ctxt.user_id``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from jsonpath_ng import DatumInContext
from jsonpath_ng.ext import parse as jsonpath_parse

from pipeline.convert.ceilometer_view import (
    CONTEXT,
    CONTEXT_PREFIX,
    METADATA,
    METADATA_KEYS,
    ceilometer_view,
    context_of,
    metadata_of,
    names_an_alias,
)

LOG = logging.getLogger(__name__)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r"'[^'\\]*'|\"[^\"\\]*\""
_SEGMENT = re.compile(rf"({_NAME}|{_QUOTED})((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_PLAIN = re.compile(
    rf"(?:\$\.)?(?:{_NAME}|{_QUOTED})(?:\[\d+\])*(?:\.(?:{_NAME}|{_QUOTED})(?:\[\d+\])*)*"
)
# Words jsonpath-ng reads as operators, never as field names.
_RESERVED = frozenset({"where", "wherenot"})
# Field names jsonpath-ng prints bare; it prints others quoted (repr).
_BARE = re.compile(r"@?[A-Za-z_][A-Za-z0-9_@-]*")

Step = str | int
Match = tuple[str, Any]
Getter = Callable[[Any], Any]

_MISSING = object()


def plain_steps(text: str) -> tuple[Step, ...] | None:
    """The lookup steps of a plain path, or None when it needs JSONPath."""
    text = text.strip()
    if not _PLAIN.fullmatch(text):
        return None
    text = text.removeprefix("$.")
    steps: list[Step] = []
    for segment in _SEGMENT.finditer(text):
        name, indexes = segment.group(1), segment.group(2)
        if name[0] in "'\"":
            name = name[1:-1]
        elif name in _RESERVED:
            return None
        steps.append(name)
        steps.extend(int(index) for index in _INDEX.findall(indexes))
    return tuple(steps)


def _step_text(step: Step) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    return step if _BARE.fullmatch(step) else repr(step)


class FieldPath:
    """One compiled field: ``first(body)`` and ``matches(body)``."""

    __slots__ = ("first", "matches", "plain", "text")

    def __init__(self, text: str) -> None:
        """Compile ``text``; raises ValueError when it is not a valid JSONPath."""
        self.text = text
        steps = plain_steps(text)
        self.plain = steps is not None
        self.first: Getter
        self.matches: Callable[[Any], list[Match]]
        if steps is not None:
            self.first = _plain_getter(steps)
            self.matches = _plain_matcher(self.first, ".".join(map(_step_text, steps)))
        else:
            self.matches = _jsonpath_matcher(text)
            self.first = _first_of(self.matches)

    def __repr__(self) -> str:
        return f"FieldPath({self.text!r})"


def _plain_getter(steps: tuple[Step, ...]) -> Getter:
    """A function returning the value at ``steps`` or None; no exceptions.

    Ceilometer's ``ctxt`` and ``metadata`` names resolve as described in
    the module docstring.
    """
    head = steps[0]
    if head == CONTEXT:
        return _context_getter(steps)
    if head == METADATA:
        return _metadata_getter(steps)
    return _lookup(steps)


def _context_getter(steps: tuple[Step, ...]) -> Getter:
    """``ctxt…``: the ``_context_<key>`` key when present, else a sent ``ctxt`` dict."""
    if len(steps) == 1:
        return context_of
    key = steps[1]
    if not isinstance(key, str):
        return _then(context_of, _lookup(steps[1:]))
    flat_key = CONTEXT_PREFIX + key
    if len(steps) == 2:
        # ctxt.<key>, nearly every use: inline, as cheap as _context_<key>.
        def get_key(body: Any) -> Any:
            if not isinstance(body, dict):
                return None
            value = body.get(flat_key, _MISSING)
            if value is not _MISSING:
                return value
            sent = body.get(CONTEXT)
            return sent.get(key) if isinstance(sent, dict) else None

        return get_key
    rest = _lookup(steps[2:])
    sent_path = _lookup(steps)

    def get(body: Any) -> Any:
        value = body.get(flat_key, _MISSING) if isinstance(body, dict) else None
        if value is _MISSING:
            return sent_path(body)
        return rest(value)

    return get


def _metadata_getter(steps: tuple[Step, ...]) -> Getter:
    """``metadata…``: ``message_id``/``timestamp`` from the notification itself."""
    if len(steps) == 1:
        return metadata_of
    if steps[1] in METADATA_KEYS:
        return _lookup(steps[1:])
    if isinstance(steps[1], str):
        return _lookup(steps)  # another key of a metadata dict the publisher sent
    return _then(metadata_of, _lookup(steps[1:]))


def _then(first: Getter, second: Getter) -> Getter:
    """``second(first(body))``."""

    def get(body: Any) -> Any:
        return second(first(body))

    return get


def _lookup(steps: tuple[Step, ...]) -> Getter:
    """Direct dict/list lookups along ``steps``, starting at the body."""
    if all(isinstance(step, str) for step in steps):
        if len(steps) == 1:
            (key,) = steps

            def get1(body: Any) -> Any:
                return body.get(key) if isinstance(body, dict) else None

            return get1
        if len(steps) == 2:
            key1, key2 = steps

            def get2(body: Any) -> Any:
                value = body.get(key1) if isinstance(body, dict) else None
                return value.get(key2) if isinstance(value, dict) else None

            return get2
        if len(steps) == 3:
            key1, key2, key3 = steps

            def get3(body: Any) -> Any:
                value = body.get(key1) if isinstance(body, dict) else None
                value = value.get(key2) if isinstance(value, dict) else None
                return value.get(key3) if isinstance(value, dict) else None

            return get3

    def get(body: Any) -> Any:
        value = body
        for step in steps:
            if isinstance(step, str):
                if not isinstance(value, dict):
                    return None
                value = value.get(step)
            elif isinstance(value, list) and step < len(value):
                value = value[step]
            else:
                return None
        return value

    return get


def _plain_matcher(get: Getter, path: str) -> Callable[[Any], list[Match]]:
    def matches(body: Any) -> list[Match]:
        value = get(body)
        return [] if value is None else [(path, value)]

    return matches


def _jsonpath_matcher(text: str) -> Callable[[Any], list[Match]]:
    try:
        expression = jsonpath_parse(text)
    except Exception as err:  # noqa: BLE001 - jsonpath-ng raises several unrelated classes
        raise ValueError(f"invalid JSONPath {text!r}: {err}") from None
    # Only expressions naming ctxt or metadata pay for building the view.
    view = ceilometer_view if names_an_alias(text) else None

    def matches(body: Any) -> list[Match]:
        try:
            found = expression.find(body if view is None else view(body))
            return [(_match_path(datum), datum.value) for datum in found if datum.value is not None]
        except Exception:  # third-party evaluation on arbitrary data: no match
            LOG.debug("JSONPath %s failed on this notification", text, exc_info=True)
            return []

    return matches


def _first_of(matches: Callable[[Any], list[Match]]) -> Getter:
    def first(body: Any) -> Any:
        found = matches(body)
        return found[0][1] if found else None

    return first


def _match_path(datum: DatumInContext) -> str:
    """Dotted path of a match, e.g. ``payload.fixed_ips.[0].address``."""
    parts: list[str] = []
    node: DatumInContext | None = datum
    while node is not None and node.context is not None:
        parts.append(str(node.path))
        node = node.context
    return ".".join(reversed(parts))
