"""Ticket tables of the SQLAlchemy driver, on the driver's :data:`metadata`.

``ticket`` holds one row per ``(app_id, record_hash)`` (unique), with the
counters every upsert bumps; ``ticket_occurrence`` one row per log record,
indexed by ``(ticket_id, time)`` for a ticket's history, by ``time`` for
expiry and uniquely by ``occurrence_key``, the occurrence's identity that
makes a redelivered record a no-op. Rows written before migration 0004 have
no key (NULL): SQLite, PostgreSQL (``NULLS DISTINCT``, the default) and
MySQL/MariaDB all let a unique index hold any number of NULLs. Text compares by code point as in :mod:`.schema`; occurrences go
with their ticket (``ON DELETE CASCADE``).

:func:`ticket_tables` also builds the same pair under another name prefix
on another MetaData, for the ticketing API's ``table_prefix`` option;
alembic does not manage those, so :func:`create_tables` creates them and
brings an occurrence table made before 0004 up to date.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipeline.storage.impl_sqlalchemy.schema import (
    UTCDateTime,
    id_type,
    metadata,
    name_type,
    raw_type,
)

LOCATION_LENGTH = 512
STATUS_LENGTH = 16
#: SQLite reuses the largest rowid after a delete; AUTOINCREMENT never
#: does, so a deleted ticket's id cannot come back naming another ticket.
TABLE_KWARGS: dict[str, Any] = {"sqlite_autoincrement": True}


class TicketTables(NamedTuple):
    """The two tables the ticket primitives read and write."""

    ticket: sa.Table
    occurrence: sa.Table


def location_type() -> sa.types.TypeEngine[str]:
    """``file:line`` text, compared by code point."""
    return sa.String(LOCATION_LENGTH).with_variant(
        postgresql.VARCHAR(LOCATION_LENGTH, collation="C"), "postgresql"
    )


def ticket_columns() -> list[sa.schema.SchemaItem]:
    """Columns of the ticket table (fresh objects for each table or migration)."""
    return [
        sa.Column("ticket_id", id_type(), primary_key=True, autoincrement=True),
        sa.Column("app_id", name_type(), nullable=False),
        sa.Column("record_hash", name_type(), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("channel", name_type(), nullable=False),
        sa.Column("location", location_type(), nullable=False),
        sa.Column("module", name_type(), nullable=False),
        sa.Column("first_occurrence_time", UTCDateTime(), nullable=False),
        sa.Column("last_occurrence_time", UTCDateTime(), nullable=False),
        sa.Column("occurrence_count", sa.BigInteger, nullable=False),
        sa.Column("solved", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(STATUS_LENGTH), nullable=False),
    ]


def occurrence_columns(ticket_table: str) -> list[sa.schema.SchemaItem]:
    """Columns of the occurrence table, referencing ``ticket_table``, as migration 0002
    made them (:func:`occurrence_key_column` came with 0004)."""
    return [
        sa.Column("occurrence_id", id_type(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            id_type(),
            sa.ForeignKey(
                f"{ticket_table}.ticket_id",
                name=f"fk_{ticket_table}_occ_ticket_id",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("app_id", name_type(), nullable=False),
        sa.Column("data", raw_type(), nullable=False),
    ]


def occurrence_key_column() -> sa.Column[str]:
    """The occurrence's identity (NULL only in rows older than migration 0004)."""
    return sa.Column("occurrence_key", name_type(), nullable=True)


def occurrence_key_index(occurrence_table: str) -> str:
    """Name of the unique index on ``occurrence_key`` of ``occurrence_table``."""
    return f"uq_{occurrence_table}_key"


def ticket_tables(target: sa.MetaData, prefix: str | None = None) -> TicketTables:
    """The ticket tables on ``target``: ``ticket``/``ticket_occurrence``, or
    ``<prefix>tickets``/``<prefix>occurrences`` when a prefix is given."""
    ticket_name = "ticket" if prefix is None else f"{prefix}tickets"
    occurrence_name = "ticket_occurrence" if prefix is None else f"{prefix}occurrences"
    if ticket_name in target.tables:
        return TicketTables(target.tables[ticket_name], target.tables[occurrence_name])
    ticket = sa.Table(
        ticket_name,
        target,
        *ticket_columns(),
        sa.UniqueConstraint("app_id", "record_hash", name=f"uq_{ticket_name}_app_hash"),
        sa.Index(f"ix_{ticket_name}_last", "last_occurrence_time"),
        **TABLE_KWARGS,
    )
    occurrence = sa.Table(
        occurrence_name,
        target,
        *occurrence_columns(ticket_name),
        occurrence_key_column(),
        sa.Index(f"ix_{occurrence_name}_ticket_time", "ticket_id", "time"),
        sa.Index(f"ix_{occurrence_name}_time", "time"),
        sa.Index(occurrence_key_index(occurrence_name), "occurrence_key", unique=True),
        **TABLE_KWARGS,
    )
    return TicketTables(ticket, occurrence)


#: The driver's own ticket tables, created by migration 0002 (keys: 0004).
TICKET_TABLES = ticket_tables(metadata)


def create_tables(conn: sa.Connection, tables: TicketTables) -> None:
    """Create ``tables`` where missing; give an existing occurrence table that
    predates occurrence keys its key column (NULL in the old rows) and index."""
    for table in tables:
        table.create(conn, checkfirst=True)
    occurrence = tables.occurrence
    if "occurrence_key" in {c["name"] for c in sa.inspect(conn).get_columns(occurrence.name)}:
        return
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    Operations(MigrationContext.configure(conn)).add_column(
        occurrence.name, occurrence_key_column()
    )
    for index in occurrence.indexes:
        if index.name == occurrence_key_index(occurrence.name):
            index.create(conn)
