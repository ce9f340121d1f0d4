"""Reading the PostgreSQL layout: :class:`EventQuery` translated to jsonb conditions.

The one query model (:mod:`pipeline.storage.query`) with its exact typed
semantics, on the documents of :mod:`.documents`:

* ``eq`` is containment, ``traits @> {"<type>": {name: value}}``, which the
  GIN index answers; the value is written exactly as the writer writes it;
* the other operators read the value under its type's key and compare it as
  that type: ``bigint`` for integers, ``double precision`` for floats, and
  text ``COLLATE "C"`` for text and datetimes (fixed-width UTC text, so
  text order is time order). A missing trait reads as NULL, so no
  condition, not even ``ne``, matches an event without it;
* ``admin_proj``: no ``project_id`` trait of any type, or a text one equal
  to the project;
* time bounds are inclusive, sort and keyset pagination as in the other SQL
  databases (a uniform direction is a row comparison, which the
  ``(generated, message_id)`` index answers).
"""

from __future__ import annotations

import json
from typing import Any, cast

import sqlalchemy as sa

from pipeline.models import Event, Trait
from pipeline.storage.impl_sqlalchemy.event_reads import keyset_after, sort_order
from pipeline.storage.impl_sqlalchemy.pg_events.documents import TYPE_KEYS, json_value, traits_of
from pipeline.storage.impl_sqlalchemy.pg_events.schema import event, event_message, event_type
from pipeline.storage.query import OPERATORS, EventQuery, TraitCondition

SORT_COLUMNS = {"generated": event.c.generated, "message_id": event.c.message_id}
_CASTS: dict[int, Any] = {
    Trait.INT_TYPE: sa.BigInteger(),
    Trait.FLOAT_TYPE: sa.Double(),
}
#: Whether an event has a ``project_id`` trait of any type (jsonpath, lax mode).
_HAS_PROJECT = event.c.traits.bool_op("@?")(sa.literal_column("""'$.*."project_id"' """))


def trait_value(dtype: int, name: str) -> sa.ColumnElement[Any]:
    """Trait ``name``'s value under ``dtype``'s key, as SQL of that type (NULL when absent).

    The range indexes of :mod:`.range_indexes` are built on this expression:
    the planner uses one only for this very expression.
    """
    key: sa.ColumnElement[str] = sa.literal_column(f"'{TYPE_KEYS[dtype]}'")
    text = event.c.traits.op("->")(key).op("->>")(sa.literal(name, sa.Text()))
    cast = _CASTS.get(dtype)
    if cast is not None:
        return sa.cast(text, cast)
    return sa.type_coerce(text, sa.Text()).collate("C")


def trait_condition(condition: TraitCondition) -> sa.ColumnElement[bool]:
    """SQL for one trait condition (see the module docstring)."""
    if condition.op == "eq":
        key = TYPE_KEYS[condition.dtype]
        document = {key: {condition.name: json_value(condition.dtype, condition.value)}}
        return event.c.traits.contains(document)
    value = condition.value
    if condition.dtype == Trait.DATETIME_TYPE:
        value = json_value(condition.dtype, value)
    compare = OPERATORS[condition.op]
    return cast(
        sa.ColumnElement[bool], compare(trait_value(condition.dtype, condition.name), value)
    )


def _message(message_id: str) -> list[sa.ColumnElement[bool]]:
    """The event of ``message_id``: its time from ``event_message`` picks the partition."""
    known = sa.select(event_message.c.generated).where(event_message.c.message_id == message_id)
    return [event.c.message_id == message_id, event.c.generated == known.scalar_subquery()]


def _admin_proj(project: str) -> sa.ColumnElement[bool]:
    own = event.c.traits.contains({"text": {"project_id": project}})
    return sa.or_(sa.not_(_HAS_PROJECT), own)


def _after(query: EventQuery) -> sa.ColumnElement[bool]:
    """Rows strictly after ``query.after`` in ``query.sort`` order.

    With one direction, one row comparison, which the index answers.
    """
    assert query.after is not None
    directions = {direction for _, direction in query.sort}
    if len(directions) != 1:
        return keyset_after(SORT_COLUMNS, query)
    columns = [SORT_COLUMNS[key] for key, _ in query.sort]
    row = sa.tuple_(*columns)
    marker = sa.tuple_(*(sa.literal(v, c.type) for c, v in zip(columns, query.after, strict=True)))
    return row > marker if directions == {"asc"} else row < marker


def conditions(query: EventQuery) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses of ``query`` (event joined to event_type)."""
    where: list[sa.ColumnElement[bool]] = []
    if query.event_type is not None:
        where.append(event_type.c.desc == query.event_type)
    if query.message_id is not None:
        where.extend(_message(query.message_id))
    if query.start is not None:
        where.append(event.c.generated >= query.start)
    if query.end is not None:
        where.append(event.c.generated <= query.end)
    where.extend(trait_condition(condition) for condition in query.traits)
    if query.admin_proj is not None:
        where.append(_admin_proj(query.admin_proj))
    if query.after is not None:
        where.append(_after(query))
    return where


def select_events(query: EventQuery) -> sa.Select[Any]:
    """The page of events that ``query`` asks for, traits as JSON text."""
    stmt = (
        sa.select(
            event.c.message_id,
            event.c.generated,
            sa.cast(event.c.traits, sa.Text()).label("traits"),
            event.c.raw,
            event_type.c.desc,
        )
        .join_from(event, event_type, event.c.event_type_id == event_type.c.id)
        .where(*conditions(query))
        .order_by(*sort_order(SORT_COLUMNS, query))
    )
    return stmt if query.limit is None else stmt.limit(query.limit)


def to_event(row: Any) -> Event:
    """The :class:`Event` of a row of :func:`select_events`."""
    raw = None if row.raw is None else json.loads(row.raw)
    return Event(row.message_id, row.desc, row.generated, traits_of(row.traits), raw)


def fetch_events(conn: sa.Connection, query: EventQuery) -> list[Event]:
    """Run ``query`` and build complete :class:`Event` models."""
    return [to_event(row) for row in conn.execute(select_events(query))]


def generated_of(conn: sa.Connection, message_id: str) -> Any:
    """``generated`` of the stored event ``message_id``, or None."""
    return conn.execute(sa.select(event.c.generated).where(*_message(message_id))).scalar()


def trait_rows(conn: sa.Connection, event_type_name: str, trait_name: str | None) -> list[Any]:
    """(generated, message_id, name, dtype, value) of ``event_type_name``'s traits, sorted.

    Oldest event first (then message id), each event's traits by name; only
    the traits called ``trait_name`` when given.
    """
    query = (
        sa.select(event.c.generated, event.c.message_id, sa.cast(event.c.traits, sa.Text()))
        .join_from(event, event_type, event.c.event_type_id == event_type.c.id)
        .where(event_type.c.desc == event_type_name)
        .order_by(event.c.generated, event.c.message_id)
    )
    if trait_name is not None:
        query = query.where(
            sa.or_(*(event.c.traits[key].has_key(trait_name) for key in TYPE_KEYS.values()))
        )
    return [
        (generated, message_id, trait.name, trait.dtype, trait.value)
        for generated, message_id, text in conn.execute(query)
        for trait in traits_of(text)
        if trait_name is None or trait.name == trait_name
    ]
