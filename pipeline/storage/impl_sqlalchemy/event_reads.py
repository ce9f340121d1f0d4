"""Reading events: :class:`EventQuery` translated to SQL, traits loaded per page.

Trait conditions become ``EXISTS`` subqueries on the trait table of their
type, with the operator taken from the one table in
:mod:`pipeline.storage.query` (its functions build SQL expressions when
given columns). Keyset pagination is the ``OR`` of prefix-equal comparisons,
which handles mixed sort directions. The traits of a page are then loaded
with one query per trait table, not one per event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from pipeline.models import Event, Trait
from pipeline.storage.impl_sqlalchemy.schema import (
    TEXT_INDEX_PREFIX,
    TRAIT_TABLES,
    event,
    event_type,
    trait_text,
)
from pipeline.storage.query import OPERATORS, EventQuery, TraitCondition

#: Ids per ``IN (...)`` when loading traits (well under every bind limit).
CHUNK = 1000
SORT_COLUMNS = {"generated": event.c.generated, "message_id": event.c.message_id}


def _trait_exists(condition: TraitCondition, dialect: str) -> sa.ColumnElement[bool]:
    table = TRAIT_TABLES[condition.dtype]
    clauses: list[Any] = [
        table.c.event_id == event.c.id,
        table.c.key == condition.name,
        OPERATORS[condition.op](table.c.value, condition.value),
    ]
    if dialect == "postgresql" and table is trait_text and condition.op == "eq":
        # Lets PostgreSQL use its prefix index; implied by the equality.
        prefix = sa.func.substr(table.c.value, 1, TEXT_INDEX_PREFIX)
        clauses.append(prefix == condition.value[:TEXT_INDEX_PREFIX])
    return sa.exists().where(*clauses)


def _admin_proj(project: str) -> sa.ColumnElement[bool]:
    """No ``project_id`` trait of any type, or a text one equal to ``project``."""
    has_none = sa.and_(
        *(
            ~sa.exists().where(table.c.event_id == event.c.id, table.c.key == "project_id")
            for table in TRAIT_TABLES.values()
        )
    )
    matches = sa.exists().where(
        trait_text.c.event_id == event.c.id,
        trait_text.c.key == "project_id",
        trait_text.c.value == project,
    )
    return sa.or_(has_none, matches)


def keyset_after(columns: Mapping[str, Any], query: EventQuery) -> sa.ColumnElement[bool]:
    """Rows strictly after ``query.after`` in ``query.sort`` order (``columns`` by sort key).

    The ``OR`` of prefix-equal comparisons, right for any mix of directions.
    """
    assert query.after is not None
    ordered = [columns[key] for key, _ in query.sort]
    alternatives = []
    for i, (_, direction) in enumerate(query.sort):
        column, value = ordered[i], query.after[i]
        beyond = column > value if direction == "asc" else column < value
        alternatives.append(sa.and_(*(ordered[j] == query.after[j] for j in range(i)), beyond))
    return sa.or_(*alternatives)


def sort_order(columns: Mapping[str, Any], query: EventQuery) -> list[Any]:
    """``ORDER BY`` clauses of ``query.sort`` (``columns`` by sort key)."""
    return [
        columns[key].asc() if direction == "asc" else columns[key].desc()
        for key, direction in query.sort
    ]


def conditions(query: EventQuery, dialect: str) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses of ``query`` (event joined to event_type)."""
    where: list[sa.ColumnElement[bool]] = []
    if query.event_type is not None:
        where.append(event_type.c.desc == query.event_type)
    if query.message_id is not None:
        where.append(event.c.message_id == query.message_id)
    if query.start is not None:
        where.append(event.c.generated >= query.start)
    if query.end is not None:
        where.append(event.c.generated <= query.end)
    where.extend(_trait_exists(condition, dialect) for condition in query.traits)
    if query.admin_proj is not None:
        where.append(_admin_proj(query.admin_proj))
    if query.after is not None:
        where.append(keyset_after(SORT_COLUMNS, query))
    return where


def select_events(query: EventQuery, dialect: str) -> sa.Select[Any]:
    """The page of events (without traits) that ``query`` asks for."""
    stmt = (
        sa.select(event.c.id, event.c.message_id, event.c.generated, event.c.raw, event_type.c.desc)
        .join_from(event, event_type, event.c.event_type_id == event_type.c.id)
        .where(*conditions(query, dialect))
        .order_by(*sort_order(SORT_COLUMNS, query))
    )
    return stmt if query.limit is None else stmt.limit(query.limit)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_traits(conn: sa.Connection, event_ids: Sequence[int]) -> dict[int, list[Trait]]:
    """Traits of the given events, by event id, each list sorted by name."""
    found: dict[int, list[Trait]] = {}
    for dtype, table in TRAIT_TABLES.items():
        query = sa.select(table.c.event_id, table.c.key, table.c.value)
        for part in chunks(event_ids):
            for event_id, key, value in conn.execute(query.where(table.c.event_id.in_(part))):
                found.setdefault(event_id, []).append(Trait(key, dtype, value))
    for traits in found.values():
        traits.sort(key=lambda trait: trait.name)
    return found


def fetch_events(conn: sa.Connection, query: EventQuery) -> list[Event]:
    """Run ``query`` and build complete :class:`Event` models."""
    rows = conn.execute(select_events(query, conn.dialect.name)).all()
    traits = load_traits(conn, [row.id for row in rows])
    return [
        Event(
            row.message_id,
            row.desc,
            row.generated,
            tuple(traits.get(row.id, ())),
            None if row.raw is None else json.loads(row.raw),
        )
        for row in rows
    ]
