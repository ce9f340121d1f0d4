"""Event tables: event_type, event and one trait table per value type.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from pipeline.storage.impl_sqlalchemy.schema import (
    TEXT_INDEX_PREFIX,
    UTCDateTime,
    id_type,
    name_type,
    raw_type,
    table_options,
    text_type,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TRAIT_TABLES: dict[str, Callable[[], Any]] = {
    "trait_text": text_type,
    "trait_int": sa.BigInteger,
    "trait_float": sa.Double,
    "trait_datetime": UTCDateTime,
}


def upgrade() -> None:
    bind = op.get_bind()
    options: dict[str, Any] = dict(table_options(bind))
    op.create_table(
        "event_type",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("desc", name_type(), nullable=False),
        sa.UniqueConstraint("desc", name="uq_event_type_desc"),
        **options,
    )
    op.create_table(
        "event",
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        sa.Column("message_id", name_type(), nullable=False),
        sa.Column("generated", UTCDateTime(), nullable=False),
        sa.Column(
            "event_type_id",
            sa.Integer,
            sa.ForeignKey("event_type.id", name="fk_event_event_type_id"),
            nullable=False,
        ),
        sa.Column("raw", raw_type(), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_event_message_id"),
        **options,
    )
    op.create_index("ix_event_type_generated", "event", ["event_type_id", "generated"])
    op.create_index("ix_event_generated_message_id", "event", ["generated", "message_id"])
    for name, value_type in TRAIT_TABLES.items():
        op.create_table(
            name,
            # No foreign key to event, for write speed (see schema.py).
            sa.Column("event_id", id_type(), primary_key=True),
            sa.Column("key", name_type(), primary_key=True),
            sa.Column("value", value_type(), nullable=False),
            sqlite_with_rowid=False,
            **options,
        )
        if name != "trait_text":
            op.create_index(f"ix_{name}_key_value", name, ["key", "value"])
    if bind.dialect.name == "postgresql":
        op.create_index(
            "ix_trait_text_key_value_prefix",
            "trait_text",
            ["key", sa.func.substr(sa.column("value"), 1, TEXT_INDEX_PREFIX)],
        )
    else:
        op.create_index(
            "ix_trait_text_key_value",
            "trait_text",
            ["key", "value"],
            mysql_length={"value": 255},
            mariadb_length={"value": 255},  # SQLAlchemy reads only its own prefix
        )


def downgrade() -> None:
    for name in (*TRAIT_TABLES, "event", "event_type"):
        op.drop_table(name)
