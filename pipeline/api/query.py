"""Panko v2 query parameters into an :class:`EventFilter` and pagination.

``GET /v2/events`` takes parallel lists ``q.field``, ``q.op``, ``q.type`` and
``q.value``; the n-th items form one condition (``q.op`` and ``q.type`` may
be shorter: missing items default to ``eq`` and ``string``, as WSME did).
Fields ``event_type`` and ``message_id`` accept only ``eq``,
``start_timestamp`` only ``ge``/``eq`` and ``end_timestamp`` only ``le``/``eq``
(both inclusive); ``all_tenants`` widens an admin's scope; any other field is
a trait. Every value is taken literally: nothing here is ever evaluated, and a
value that cannot be converted to its declared type is a :class:`BadRequest`
whose message follows Panko's wording.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.exceptions import PipelineError
from pipeline.models import Trait, parse_datetime
from pipeline.storage import EventFilter

#: Operators in the order Panko lists them in its error message.
OPERATORS = ("lt", "le", "eq", "ne", "ge", "gt")
TRAIT_TYPES = ("integer", "float", "string", "datetime")
SORT_KEYS = ("message_id", "generated")
SORT_DIRECTIONS = ("asc", "desc")
#: Fields of the event itself and the operators each accepts.
EVENT_FIELDS = {
    "event_type": ("eq",),
    "message_id": ("eq",),
    "start_timestamp": ("ge", "eq"),
    "end_timestamp": ("le", "eq"),
}
_TRUE = ("1", "t", "true", "on", "y", "yes")


class BadRequest(PipelineError, ValueError):
    """The request is malformed; the message is safe to show the client."""


@dataclass(frozen=True)
class Scope:
    """Whose events a request may see (see :mod:`pipeline.api.auth`).

    ``user_id``/``project_id`` set: only events whose text traits
    ``user_id`` and ``project_id`` equal them. ``admin_proj`` set: events of
    that project or without a project, or every event when the query asks
    for ``all_tenants`` and ``all_tenants`` here allows it. Neither:
    everything.
    """

    user_id: str | None = None
    project_id: str | None = None
    admin_proj: str | None = None
    all_tenants: bool = True

    @property
    def limited(self) -> bool:
        """True for a non-admin caller."""
        return self.user_id is not None


def check_text(value: str, what: str) -> str:
    """Refuse text no database can compare safely (NUL bytes)."""
    if "\x00" in value:
        raise BadRequest(f"{what} must not contain NUL characters")
    return value


def convert_value(value: str, type_name: str) -> Any:
    """Typed value of one query item, with Panko's error messages."""
    if type_name not in TRAIT_TYPES:
        raise BadRequest(
            f"The data type {type_name} is not supported. The supported data "
            f"type list is: {list(TRAIT_TYPES)}"
        )
    dtype = Trait.get_type_by_name(type_name)
    assert dtype is not None
    check_text(value, "q.value")
    try:
        converted = Trait.convert_value(dtype, value)
        if isinstance(converted, float) and not math.isfinite(converted):
            raise ValueError("not a finite number")
    except (ValueError, OverflowError):
        raise BadRequest(
            f"Unable to convert the value {value} to the expected data type {type_name}."
        ) from None
    return converted


def timestamp(value: str, name: str) -> dt.datetime:
    """An ISO 8601 bound, as aware UTC; BadRequest otherwise."""
    check_text(value, name)
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"Unable to convert the value {value} to the expected data type datetime."
        ) from None


def _positional(items: Sequence[str], count: int, name: str) -> list[str | None]:
    if len(items) > count:
        raise BadRequest(f"{len(items)} {name} given for {count} q.field: they go in pairs")
    return [*items, *([None] * (count - len(items)))]


def build_filter(
    fields: Sequence[str],
    ops: Sequence[str],
    types: Sequence[str],
    values: Sequence[str],
    scope: Scope,
) -> EventFilter:
    """The :class:`EventFilter` of a ``q.*`` query within ``scope``."""
    if len(values) != len(fields):
        raise BadRequest(
            f"every q.field needs one q.value (got {len(fields)} q.field, {len(values)} q.value)"
        )
    traits: list[dict[str, Any]] = []
    if scope.limited:
        traits += [
            {"key": "project_id", "string": scope.project_id, "op": "eq"},
            {"key": "user_id", "string": scope.user_id, "op": "eq"},
        ]
    admin_proj = scope.admin_proj
    event: dict[str, Any] = {}
    for field, op, type_name, value in zip(
        fields,
        _positional(ops, len(fields), "q.op"),
        _positional(types, len(fields), "q.type"),
        values,
        strict=True,
    ):
        field = check_text(field, "q.field")
        op = op or "eq"
        if op not in OPERATORS:
            raise BadRequest(
                f"Operator {op} is not supported. The supported operators are: {OPERATORS}"
            )
        if field in EVENT_FIELDS:
            if op not in EVENT_FIELDS[field]:
                allowed = "' or `".join(EVENT_FIELDS[field])
                raise BadRequest(
                    f"Operator {op} is not supported. Only `{allowed}' operator is "
                    f"available for field {field}"
                )
            event[field] = (
                timestamp(value, field) if field.endswith("timestamp") else check_text(value, field)
            )
        elif field == "all_tenants":
            # Only an admin's scope can widen; for anyone else it is ignored
            # rather than turned into a trait condition that matches nothing.
            if scope.all_tenants and value.strip().lower() in _TRUE:
                admin_proj = None
        elif not field:
            raise BadRequest("q.field must not be empty")
        else:
            type_name = type_name or "string"
            traits.append({"key": field, type_name: convert_value(value, type_name), "op": op})
    return EventFilter(traits_filter=traits, admin_proj=admin_proj, **event)


def pagination(
    sort: Sequence[str], limit: int | None, marker: str | None, default: int, maximum: int
) -> dict[str, Any]:
    """Panko's pagination dict from ``sort=key:dir``, ``limit`` and ``marker``."""
    if limit is None:
        limit = default
    if limit <= 0:
        raise BadRequest(
            f"Invalid input for field/attribute limit. Value: '{limit}'. "
            "the limit should be a positive integer."
        )
    if limit > maximum:
        raise BadRequest(
            f"Invalid input for field/attribute limit. Value: '{limit}'. "
            f"the limit may not exceed {maximum}."
        )
    sorts: list[tuple[str, str]] = []
    for item in sort:
        key, _, direction = item.partition(":")
        if key not in SORT_KEYS or (direction and direction not in SORT_DIRECTIONS):
            raise BadRequest(
                f"Invalid input for field/attribute sort. Value: '{item}'. the sort "
                "parameter should be a pair of sort key and sort dir combined with "
                "':', or only sort key specified and sort dir will be default 'asc', "
                f"the supported sort keys are: {list(SORT_KEYS)}, the supported sort "
                f"directions are: {list(SORT_DIRECTIONS)}"
            )
        sorts.append((key, direction or "asc"))
    if marker is not None:
        check_text(marker, "marker")
    return {"limit": limit, "marker": marker, "sort": sorts}
