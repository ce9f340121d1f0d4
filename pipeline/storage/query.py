"""Event queries: Panko's EventFilter in, one immutable EventQuery out.

Every driver receives an :class:`EventQuery` built here and translates it;
no driver parses filters or mutates the caller's :class:`EventFilter`.
Semantics shared by all drivers:

* all conditions are ANDed;
* ``start_timestamp`` and ``end_timestamp`` are inclusive;
* a trait condition matches only a trait stored with its name *and* type,
  whose value satisfies the operator (so ``ne`` never matches an event
  lacking the trait);
* ``admin_proj`` keeps events without a ``project_id`` trait and events whose
  text ``project_id`` equals it;
* results are ordered by ``sort`` (``message_id`` is always the final
  tie-breaker) and ``after`` holds the marker's sort values for keyset
  pagination: only events strictly after it in that order are returned.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.exceptions import InvalidQuery
from pipeline.models import Event, Trait, parse_datetime
from pipeline.storage.limits import text_problem

#: The one operator table: name -> Python comparison (drivers map the names).
OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
SORT_KEYS = ("generated", "message_id")
SORT_DIRECTIONS = ("asc", "desc")
DEFAULT_SORT: tuple[tuple[str, str], ...] = (("generated", "asc"), ("message_id", "asc"))
_TYPE_KEYS = {
    name: Trait.get_type_by_name(name) for name in ("string", "integer", "float", "datetime")
}


class EventFilter:
    """Properties by which to filter events (Panko's signature).

    :param start_timestamp: earliest ``generated`` (inclusive)
    :param end_timestamp: latest ``generated`` (inclusive)
    :param event_type: exact event type
    :param message_id: exact message id
    :param traits_filter: list of ``{'key': name, <type>: value, 'op': op}``
        where ``<type>`` is one of string/integer/float/datetime and ``op``
        one of eq/ne/lt/le/gt/ge (default eq)
    :param admin_proj: project id of an admin scoped query
    """

    def __init__(
        self,
        start_timestamp: dt.datetime | str | None = None,
        end_timestamp: dt.datetime | str | None = None,
        event_type: str | None = None,
        message_id: str | None = None,
        traits_filter: Sequence[Mapping[str, Any]] | None = None,
        admin_proj: str | None = None,
    ) -> None:
        self.start_timestamp = start_timestamp
        self.end_timestamp = end_timestamp
        self.event_type = event_type
        self.message_id = message_id
        self.traits_filter = traits_filter or []
        self.admin_proj = admin_proj

    def __repr__(self) -> str:
        return (
            f"<EventFilter(start_timestamp: {self.start_timestamp}, "
            f"end_timestamp: {self.end_timestamp}, event_type: {self.event_type}, "
            f"message_id: {self.message_id}, traits: {self.traits_filter}, "
            f"admin_proj: {self.admin_proj})>"
        )


@dataclass(frozen=True, slots=True)
class TraitCondition:
    """``trait <name> of type <dtype> <op> <value>``, value already typed."""

    name: str
    dtype: int
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A validated, immutable event query (see the module docstring)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    event_type: str | None = None
    message_id: str | None = None
    traits: tuple[TraitCondition, ...] = ()
    admin_proj: str | None = None
    limit: int | None = None
    sort: tuple[tuple[str, str], ...] = DEFAULT_SORT
    after: tuple[Any, ...] | None = None

    def with_after(self, values: tuple[Any, ...]) -> EventQuery:
        """A copy whose results start strictly after ``values``."""
        return EventQuery(
            self.start,
            self.end,
            self.event_type,
            self.message_id,
            self.traits,
            self.admin_proj,
            self.limit,
            self.sort,
            values,
        )


def _timestamp(value: Any, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError as err:
        raise InvalidQuery(f"{name}: {err}") from None


def trait_condition(spec: Mapping[str, Any]) -> TraitCondition:
    """Validate one ``traits_filter`` item into a :class:`TraitCondition`."""
    if not isinstance(spec, Mapping):
        raise InvalidQuery(f"trait filter must be a mapping, got {spec!r}")
    name = spec.get("key")
    if not isinstance(name, str) or not name:
        raise InvalidQuery(f"trait filter needs a 'key': {dict(spec)!r}")
    checked_text(name, "trait filter key")
    op = spec.get("op") or "eq"
    if op not in OPERATORS:
        raise InvalidQuery(
            f"unknown operator {op!r} for trait {name!r}; use one of {', '.join(OPERATORS)}"
        )
    typed = [key for key in _TYPE_KEYS if key in spec]
    unknown = set(spec) - {"key", "op", *_TYPE_KEYS}
    if unknown or len(typed) != 1:
        raise InvalidQuery(
            f"trait filter {name!r} needs exactly one of "
            f"{', '.join(_TYPE_KEYS)} (got {sorted(spec)})"
        )
    dtype = _TYPE_KEYS[typed[0]]
    assert dtype is not None
    try:
        value = Trait.convert_value(dtype, spec[typed[0]])
    except ValueError as err:
        raise InvalidQuery(f"trait filter {name!r}: {err}") from None
    if dtype == Trait.TEXT_TYPE:
        checked_text(value, f"trait filter {name!r} value")
    return TraitCondition(name, dtype, op, value)


def checked_text(value: Any, what: str) -> Any:
    """``value`` if every driver can compare it; :class:`InvalidQuery` if not.

    Text no driver can store (NUL, surrogates: :mod:`pipeline.storage.limits`)
    would otherwise raise a different error on each database.
    """
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise InvalidQuery(f"{what} {problem}")
    return value


def _sort(pagination: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    requested = pagination.get("sort") or DEFAULT_SORT
    sort: list[tuple[str, str]] = []
    for item in requested:
        try:
            key, direction = item
        except (TypeError, ValueError):
            raise InvalidQuery(f"sort item must be (key, direction): {item!r}") from None
        if key not in SORT_KEYS:
            raise InvalidQuery(f"cannot sort by {key!r}; use one of {', '.join(SORT_KEYS)}")
        if direction not in SORT_DIRECTIONS:
            raise InvalidQuery(f"sort direction must be asc or desc, got {direction!r}")
        if key not in (k for k, _ in sort):
            sort.append((key, direction))
    if "message_id" not in (k for k, _ in sort):
        sort.append(("message_id", "asc"))
    return tuple(sort)


def _limit(pagination: Mapping[str, Any]) -> int | None:
    limit = pagination.get("limit")
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidQuery(f"limit must be a positive integer, got {limit!r}")
    return limit


def build_event_query(
    event_filter: EventFilter | None, pagination: Mapping[str, Any] | None = None
) -> EventQuery:
    """Validate a filter and pagination into an :class:`EventQuery`.

    The marker is not resolved here (that needs storage); the caller sets
    ``after`` with :meth:`EventQuery.with_after`.
    """
    event_filter = event_filter or EventFilter()
    pagination = pagination or {}
    return EventQuery(
        start=_timestamp(event_filter.start_timestamp, "start_timestamp"),
        end=_timestamp(event_filter.end_timestamp, "end_timestamp"),
        event_type=checked_text(event_filter.event_type, "event_type"),
        message_id=checked_text(event_filter.message_id, "message_id"),
        traits=tuple(trait_condition(spec) for spec in event_filter.traits_filter or ()),
        admin_proj=checked_text(event_filter.admin_proj, "admin_proj"),
        limit=_limit(pagination),
        sort=_sort(pagination),
    )


def sort_values(query: EventQuery, generated: dt.datetime, message_id: str) -> tuple[Any, ...]:
    """The sort-key values of one event, in ``query.sort`` order."""
    fields = {"generated": generated, "message_id": message_id}
    return tuple(fields[key] for key, _ in query.sort)


def is_after(query: EventQuery, values: tuple[Any, ...]) -> bool:
    """True when an event with sort ``values`` comes strictly after ``query.after``.

    Reference semantics of keyset pagination with mixed directions; SQL
    drivers express the same as ``OR`` of prefix-equal comparisons.
    """
    if query.after is None:
        return True
    for (_, direction), mine, marker in zip(query.sort, values, query.after, strict=True):
        if mine != marker:
            return mine > marker if direction == "asc" else mine < marker
    return False


def _trait_matches(event: Event, condition: TraitCondition) -> bool:
    trait = event.trait(condition.name)
    if trait is None or trait.dtype != condition.dtype:
        return False
    return bool(OPERATORS[condition.op](trait.value, condition.value))


def matches(event: Event, query: EventQuery) -> bool:
    """Whether ``event`` satisfies every condition of ``query`` (``after`` aside)."""
    if query.event_type is not None and event.event_type != query.event_type:
        return False
    if query.message_id is not None and event.message_id != query.message_id:
        return False
    if query.start is not None and event.generated < query.start:
        return False
    if query.end is not None and event.generated > query.end:
        return False
    if query.admin_proj is not None:
        project = event.trait("project_id")
        if project is not None and not (
            project.dtype == Trait.TEXT_TYPE and project.value == query.admin_proj
        ):
            return False
    return all(_trait_matches(event, condition) for condition in query.traits)


def evaluate(events: Iterable[Event], query: EventQuery) -> list[Event]:
    """Answer ``query`` over ``events`` in Python: filter, keyset, order, limit.

    The reference semantics for drivers without a query language of their
    own (the memory driver, file-based plugins); database drivers translate
    the same query and are tested to agree with it.
    """
    found = [
        event
        for event in events
        if matches(event, query)
        and is_after(query, sort_values(query, event.generated, event.message_id))
    ]
    # Stable sorts from the last key to the first give the lexicographic
    # order with a direction per key.
    for position in reversed(range(len(query.sort))):
        found.sort(
            key=lambda e: sort_values(query, e.generated, e.message_id)[position],
            reverse=query.sort[position][1] == "desc",
        )
    return found if query.limit is None else found[: query.limit]


def trait_types_of(events: Iterable[Event]) -> list[dict[str, Any]]:
    """``get_trait_types`` over ``events`` (all of one type): each (name, dtype) once, sorted."""
    found = {(t.name, t.dtype) for event in events for t in event.traits}
    return [{"name": name, "data_type": dtype} for name, dtype in sorted(found)]


def traits_of(events: Iterable[Event], trait_type: str | None = None) -> list[Trait]:
    """``get_traits`` over ``events`` (in the order given): every trait, or those named ``trait_type``."""
    return [
        trait
        for event in events
        for trait in event.traits
        if trait_type is None or trait.name == trait_type
    ]
