"""Ticket tables: ticket (unique per app and key) and ticket_occurrence.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from pipeline.storage.impl_sqlalchemy.schema import table_options
from pipeline.storage.impl_sqlalchemy.ticket_schema import (
    TABLE_KWARGS,
    occurrence_columns,
    ticket_columns,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    options: dict[str, Any] = {**table_options(op.get_bind()), **TABLE_KWARGS}
    op.create_table(
        "ticket",
        *ticket_columns(),
        sa.UniqueConstraint("app_id", "record_hash", name="uq_ticket_app_hash"),
        **options,
    )
    op.create_index("ix_ticket_last", "ticket", ["last_occurrence_time"])
    op.create_table("ticket_occurrence", *occurrence_columns("ticket"), **options)
    op.create_index("ix_ticket_occurrence_ticket_time", "ticket_occurrence", ["ticket_id", "time"])
    op.create_index("ix_ticket_occurrence_time", "ticket_occurrence", ["time"])


def downgrade() -> None:
    op.drop_table("ticket_occurrence")
    op.drop_table("ticket")
