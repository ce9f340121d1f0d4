"""SQLite: rewrite every stored datetime to the one text form.

Revision ID: 0003
Revises: 0002

SQLite keeps datetimes as text, and compares them as text. Up to revision
0002 the event writer left datetime trait values to sqlite3's default
adapter, which writes a whole second as ``2024-03-01 07:00:00``, while every
other write and every filter binds ``2024-03-01 07:00:00.000000``
(:data:`~pipeline.storage.impl_sqlalchemy.schema.SQLITE_DATETIME_FORMAT`):
such rows never matched ``eq`` and sorted before their own instant.

This revision rewrites, on SQLite, every value of every datetime column
that is not in that form, reformatted by the column type's own bind
processing. Rows are walked in primary-key order, :data:`BATCH` per
SELECT and UPDATE, so memory stays bounded on large databases; the walk
runs in the upgrade's one transaction, so it applies entirely or not at
all. A value that is not a datetime at all (never written by pipeline) is
left as it is and logged. PostgreSQL and MySQL/MariaDB store real datetime
types (``TIMESTAMP``, ``DATETIME(6)``): nothing to do there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from pipeline.models import to_utc
from pipeline.storage.impl_sqlalchemy.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LOG = logging.getLogger(__name__)
#: Rows read and rewritten per statement.
BATCH = 1000
#: GLOB pattern of the one form: a digit for each letter (``.`` is literal in GLOB).
ONE_FORM = "".join("[0-9]" if ch.isalpha() else ch for ch in "YYYY-MM-DD hh:mm:ss.ffffff")
#: table -> (primary key columns, datetime columns), as created by 0001 and 0002.
DATETIME_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "event": (("id",), ("generated",)),
    "trait_datetime": (("event_id", "key"), ("value",)),
    "ticket": (("ticket_id",), ("first_occurrence_time", "last_occurrence_time")),
    "ticket_occurrence": (("occurrence_id",), ("time",)),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    formatter = UTCDateTime().dialect_impl(bind.dialect).bind_processor(bind.dialect)
    assert formatter is not None
    for name, (keys, columns) in DATETIME_COLUMNS.items():
        rewritten = _rewrite_table(bind, name, keys, columns, formatter)
        if rewritten:
            LOG.info("%s: rewrote %d rows to the one datetime text form", name, rewritten)


def downgrade() -> None:
    """Nothing to undo: code at 0002 reads the one form as well."""


def _rewrite_table(
    bind: sa.Connection,
    name: str,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    formatter: Callable[[Any], Any],
) -> int:
    """Rewrite the rows of ``name`` holding a datetime not in the one form; how many."""
    # Untyped columns: values are read and written as the raw text they are.
    table = sa.table(name, *(sa.column(col) for col in (*keys, *columns)))
    key_cols = [table.c[key] for key in keys]
    stray = sa.or_(*(sa.not_(table.c[col].op("GLOB")(ONE_FORM)) for col in columns))
    select = sa.select(*key_cols, *(table.c[col] for col in columns)).where(stray)
    select = select.order_by(*key_cols).limit(BATCH)
    update = (
        sa.update(table)
        .where(*(column == sa.bindparam(f"k_{column.name}") for column in key_cols))
        .values({col: sa.bindparam(f"v_{col}") for col in columns})
    )
    total = 0
    after: tuple[Any, ...] | None = None
    while True:
        page = select if after is None else select.where(sa.tuple_(*key_cols) > sa.tuple_(*after))
        rows = bind.execute(page).all()
        if not rows:
            return total
        after = tuple(rows[-1][: len(keys)])
        bind.execute(update, [_params(row, keys, columns, formatter) for row in rows])
        total += len(rows)


def _params(
    row: Any, keys: tuple[str, ...], columns: tuple[str, ...], formatter: Callable[[Any], Any]
) -> dict[str, Any]:
    """Parameters of the UPDATE of one ``(*keys, *columns)`` row."""
    params = {f"k_{key}": value for key, value in zip(keys, row, strict=False)}
    for column, text in zip(columns, row[len(keys) :], strict=True):
        params[f"v_{column}"] = _one_form(text, formatter)
    return params


def _one_form(text: Any, formatter: Callable[[Any], Any]) -> Any:
    """``text`` in the one form, or unchanged (and logged) when it is no datetime."""
    try:
        when = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        when = None
    if when is None:
        LOG.warning("left %r as it is: not a datetime", text)
        return text
    return formatter(to_utc(when))
