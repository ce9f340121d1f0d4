"""The ticket rules in SQL: the rows an upsert inserts and the assignments that bump.

Both are generated from :mod:`pipeline.storage.ticket_rules`, one SQL
expression per :class:`~pipeline.storage.ticket_rules.Op`, and serve every
SQL dialect: SQLite's ``ON CONFLICT DO UPDATE`` and MySQL's ``ON DUPLICATE
KEY UPDATE`` (:mod:`.ticket_writes`), and PostgreSQL's bulk upsert, which
compiles them into its statement (:mod:`.ticket_postgresql`). The MAP
bump (a solved ticket becomes regressed) is the UPDATE of :func:`remap`,
run after the upsert on the rows it locked, its row count the tickets
reopened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from pipeline.storage.ticket_batch import TicketGroup
from pipeline.storage.ticket_rules import (
    BUMPS,
    REGRESSION,
    Bump,
    Op,
    new_ticket,
    plain,
    remaps,
    upsert_bumps,
)


def ticket_rows(groups: Sequence[TicketGroup]) -> list[dict[str, Any]]:
    """The rows of the tickets ``groups`` would create, by column name."""
    return [{k: plain(v) for k, v in new_ticket(group).items()} for group in groups]


def _literal(value: Any) -> sa.ColumnElement[Any]:
    """``value`` written into the statement, not bound: PyMySQL's executemany
    (one multi-row INSERT) cannot take parameters in ON DUPLICATE KEY UPDATE."""
    value = plain(value)
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    if isinstance(value, str):
        return sa.literal_column("'" + value.replace("'", "''") + "'")
    raise TypeError(f"no SQL literal for {value!r}")


def _assignment(bump: Bump, column: Any, new: Any) -> Any:
    """SQL for ``bump`` of the stored ``column`` by the to-be-inserted ``new``."""
    if bump.op is Op.ADD:
        return column + new
    if bump.op is Op.LEAST:
        return sa.case((new < column, new), else_=column)
    if bump.op is Op.GREATEST:
        return sa.case((new > column, new), else_=column)
    if bump.op is Op.MAP:
        cases = [(column == _literal(stored), _literal(image)) for stored, image in bump.mapping]
        return sa.case(*cases, else_=column)
    return _literal(bump.value)


def assignments(table: sa.Table, new: Any) -> list[tuple[str, Any]]:
    """The upsert's assignments, one per rule of
    :func:`~pipeline.storage.ticket_rules.upsert_bumps`; ``new`` names the row
    that was to be inserted (``excluded``, ``VALUES()``)."""
    return [
        (bump.column, _assignment(bump, table.c[bump.column], new[bump.column]))
        for bump in upsert_bumps()
    ]


def remap(conn: sa.Connection, table: sa.Table, ticket_ids: Sequence[int]) -> int:
    """Apply the MAP bumps to the tickets ``ticket_ids`` (which this transaction's
    upsert has locked) holding a mapped value; how many it reopened (the
    :data:`~pipeline.storage.ticket_rules.REGRESSION` pair's row count)."""
    if not ticket_ids:
        return 0
    sets = {bump.column: _literal(bump.value) for bump in BUMPS if bump.op is Op.SET}
    reopened = 0
    for column, stored, image in remaps():
        statement = (
            sa.update(table)
            .where(table.c.ticket_id.in_(list(ticket_ids)), table.c[column] == _literal(stored))
            .values({column: _literal(image), **sets})
        )
        changed = conn.execute(statement).rowcount
        if (column, stored, image) == REGRESSION:
            reopened += changed
    return reopened
