"""Occurrence keys: ticket_occurrence.occurrence_key, unique, so redeliveries count once.

Existing rows keep NULL: they came before occurrences had an identity, and
a unique index holds any number of NULLs on SQLite, PostgreSQL (NULLS
DISTINCT, the default) and MySQL/MariaDB, so nothing has to be made up for
them. Adding a nullable column without a default is instant on PostgreSQL
and MariaDB/MySQL 8; the index is built once over the existing rows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from pipeline.storage.impl_sqlalchemy.ticket_schema import (
    occurrence_key_column,
    occurrence_key_index,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ticket_occurrence", occurrence_key_column())
    op.create_index(
        occurrence_key_index("ticket_occurrence"),
        "ticket_occurrence",
        ["occurrence_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(occurrence_key_index("ticket_occurrence"), "ticket_occurrence")
    with op.batch_alter_table("ticket_occurrence") as batch:
        batch.drop_column("occurrence_key")
