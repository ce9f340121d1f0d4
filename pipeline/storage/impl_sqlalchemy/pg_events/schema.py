"""Tables of the PostgreSQL event layout (migration 0005 creates them).

* ``event``: one row per event, partitioned by range of ``generated``
  (:mod:`.partitions` adds and drops the partitions). ``traits`` is the
  typed jsonb document of :mod:`.documents`. Indexes, each built per
  partition: ``(generated, message_id)`` unique, for time bounds, the
  default order and finding an event whose time is known;
  ``(event_type_id, generated)`` for event type filters; a GIN
  ``jsonb_path_ops`` index on ``traits`` for trait equality (``@>``); and,
  made by ``upgrade()`` from the configuration, not here, one per trait
  whose range filters are indexed (:mod:`.range_indexes`). No surrogate
  id: nothing refers to an event row.
* ``event_message``: every stored message id with its event's
  ``generated``, unique: the one index that keeps message ids unique across
  partitions (a unique index of a partitioned table must hold the
  partition key), and the way from a message id to its partition. Expiry
  leaves the rows of the events it deletes behind for a moment and deletes
  them afterwards (:mod:`.messages`, :mod:`.expiry`).
* ``event_type``: the same table as in the other databases (names to ids).
* ``event_catalogue``: which event types and which trait names and types
  occur in which partition (``period``: the partition's lower bound). A
  row with ``dtype`` 0 and an empty name says the event type has events
  there. Writers add rows, expiry removes those of dropped partitions and
  re-checks those of the partition it trims, so listing event types and
  trait types reads this small table instead of the events.
* ``event_state``: one row that writers read ``FOR SHARE`` in each batch
  and expiry updates (:mod:`.state`): the catalogue's epoch and the
  expiry horizon.

Text compares by code point (``COLLATE "C"``), datetimes are naive UTC, as
in :mod:`..schema`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipeline.storage.impl_sqlalchemy.schema import (
    UTCDateTime,
    name_type,
    raw_type,
)
from pipeline.storage.impl_sqlalchemy.schema import event_type as _event_type
from pipeline.storage.impl_sqlalchemy.ticket_schema import TICKET_TABLES

#: ``dtype`` of the catalogue row that records an event type itself.
TYPE_ROW = 0
#: Partition key of ``event``.
PARTITION_BY = "RANGE (generated)"

metadata = sa.MetaData()

event_type = _event_type.to_metadata(metadata)
for _table in TICKET_TABLES:
    _table.to_metadata(metadata)

event = sa.Table(
    "event",
    metadata,
    sa.Column("message_id", name_type(), nullable=False),
    sa.Column("generated", UTCDateTime(), nullable=False),
    sa.Column("event_type_id", sa.Integer, nullable=False),
    sa.Column("traits", postgresql.JSONB(none_as_null=True), nullable=False),
    sa.Column("raw", raw_type(), nullable=True),
    sa.Index("uq_event_generated_message", "generated", "message_id", unique=True),
    sa.Index("ix_event_type_time", "event_type_id", "generated"),
    sa.Index(
        "ix_event_traits",
        "traits",
        postgresql_using="gin",
        postgresql_ops={"traits": "jsonb_path_ops"},
    ),
    postgresql_partition_by=PARTITION_BY,
)

event_catalogue = sa.Table(
    "event_catalogue",
    metadata,
    sa.Column("event_type_id", sa.Integer, primary_key=True),
    sa.Column("dtype", sa.SmallInteger, primary_key=True),
    sa.Column("trait_name", name_type(), primary_key=True),
    sa.Column("period", sa.DateTime, primary_key=True),
    sa.Index("ix_event_catalogue_period", "period"),
)

event_message = sa.Table(
    "event_message",
    metadata,
    sa.Column("message_id", name_type(), primary_key=True),
    sa.Column("generated", UTCDateTime(), nullable=False),
)

event_state = sa.Table(
    "event_state",
    metadata,
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("horizon", UTCDateTime(), nullable=True),
)

#: The event tables of this layout, in creation order.
EVENT_TABLES = (event, event_message, event_catalogue, event_state)
