"""PostgreSQL: events in one row each, partitioned by day, traits in jsonb.

Revision ID: 0005
Revises: 0004

PostgreSQL only (nothing happens on SQLite, MySQL or MariaDB): creates the
layout of :mod:`pipeline.storage.impl_sqlalchemy.pg_events` — ``event``
partitioned by range of ``generated`` with its three indexes,
``event_message``, ``event_catalogue`` and ``event_state``; ``event_type``
stays as it is, ids included.

The previous tables (``event`` and the four trait tables) are dropped when
they hold no event. Otherwise they move to the schema ``pipeline_legacy``
(instant: no row is touched), beside a view of ``event_type``, and
``pipeline dbsync`` copies their events over in bounded batches once this
revision has committed
(:mod:`pipeline.storage.impl_sqlalchemy.pg_events.migration`); the driver
reads both meanwhile. Downgrading is not supported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pipeline.storage.impl_sqlalchemy.schema import UTCDateTime, name_type, raw_type

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TRAIT_TABLES = ("trait_text", "trait_int", "trait_float", "trait_datetime")
#: Where the previous tables wait to be copied (the name pg_events.migration uses).
LEGACY_SCHEMA = "pipeline_legacy"


def _set_aside_previous_tables(bind: sa.Connection) -> None:
    """Drop the previous event tables if empty, else move them to :data:`LEGACY_SCHEMA`."""
    if not bind.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM event)").scalar():
        for name in (*TRAIT_TABLES, "event"):
            op.drop_table(name)
        return
    here = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f"CREATE SCHEMA {LEGACY_SCHEMA}")
    for name in ("event", *TRAIT_TABLES):
        op.execute(f"ALTER TABLE {name} SET SCHEMA {LEGACY_SCHEMA}")
    # The previous code's queries join event_type: reading them with
    # search_path = pipeline_legacy finds the one table through this view.
    # DISTINCT: a view PostgreSQL cannot write through, so nothing deletes
    # through it the types this layout uses.
    op.execute(
        f"CREATE VIEW {LEGACY_SCHEMA}.event_type AS "
        f'SELECT DISTINCT id, "desc" FROM "{here}".event_type'
    )


def _create_event_table() -> None:
    op.create_table(
        "event",
        sa.Column("message_id", name_type(), nullable=False),
        sa.Column("generated", UTCDateTime(), nullable=False),
        sa.Column("event_type_id", sa.Integer, nullable=False),
        sa.Column("traits", postgresql.JSONB(), nullable=False),
        sa.Column("raw", raw_type(), nullable=True),
        postgresql_partition_by="RANGE (generated)",
    )
    op.create_index("uq_event_generated_message", "event", ["generated", "message_id"], unique=True)
    op.create_index("ix_event_type_time", "event", ["event_type_id", "generated"])
    op.create_index(
        "ix_event_traits",
        "event",
        ["traits"],
        postgresql_using="gin",
        postgresql_ops={"traits": "jsonb_path_ops"},
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _set_aside_previous_tables(bind)
    _create_event_table()
    op.create_table(
        "event_catalogue",
        sa.Column("event_type_id", sa.Integer, primary_key=True),
        sa.Column("dtype", sa.SmallInteger, primary_key=True),
        sa.Column("trait_name", name_type(), primary_key=True),
        sa.Column("period", sa.DateTime, primary_key=True),
    )
    op.create_index("ix_event_catalogue_period", "event_catalogue", ["period"])
    op.create_table(
        "event_message",
        sa.Column("message_id", name_type(), primary_key=True),
        sa.Column("generated", UTCDateTime(), nullable=False),
    )
    state = op.create_table(
        "event_state",
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("horizon", UTCDateTime(), nullable=True),
    )
    op.bulk_insert(state, [{"epoch": 0}])


def downgrade() -> None:
    raise NotImplementedError("the PostgreSQL event layout cannot be downgraded")
