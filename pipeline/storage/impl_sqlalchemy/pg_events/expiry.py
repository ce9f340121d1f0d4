"""Expiry by partition: whole days are dropped, rows are deleted only at the edge.

Oldest partition first: a partition that ends at or before the cutoff is
dropped whole (:meth:`.Partitions.drop`) when its events fit in what is
left of ``max_count`` (always, without one); otherwise, and in the
partition the cutoff falls into, the oldest events before the cutoff are
deleted in transactions of at most ``chunk`` rows. Then, in one
transaction, the horizon of :mod:`.state` moves to the time before which
every event was deleted (at least the last one's) and the catalogue follows (:mod:`.catalogue`: the rows of a
dropped partition go, those of a trimmed one are checked again); last, the
``event_message`` rows of the deleted events go (:mod:`.messages`), in one
statement.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from pipeline.storage.impl_sqlalchemy.pg_events import catalogue, state
from pipeline.storage.impl_sqlalchemy.pg_events.partitions import (
    PERIOD,
    Partitions,
    attached,
    partition_name,
)

LOG = logging.getLogger(__name__)


def _count(conn: sa.Connection, period: dt.datetime) -> int:
    return int(
        conn.exec_driver_sql(f'SELECT count(*) FROM "{partition_name(period)}"').scalar_one()
    )


#: The rows of ``event_message`` older than the horizon whose event is gone.
_FORGET_MESSAGES = sa.text(
    "DELETE FROM event_message AS r WHERE r.generated < CAST(:horizon AS timestamp) "
    "AND NOT EXISTS (SELECT 1 FROM event AS e WHERE e.generated < CAST(:horizon AS timestamp) "
    "AND e.generated = r.generated AND e.message_id = r.message_id)"
)


def _trim(
    engine: sa.Engine, period: dt.datetime, cutoff: dt.datetime, limit: int | None, chunk: int
) -> tuple[int, dt.datetime | None]:
    """Delete up to ``limit`` oldest events before ``cutoff`` in one partition, by chunks.

    Returns how many, and (with a ``limit``) the ``generated`` of the last
    one. Without a limit any order will do: all of them go.
    """
    name = partition_name(period)
    order = "ORDER BY generated, message_id " if limit is not None else ""
    statement = sa.text(
        f'DELETE FROM "{name}" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "{name}" '
        f"WHERE generated < :cutoff {order}LIMIT :n)) RETURNING generated"
    )
    deleted, last = 0, None
    with engine.connect() as conn:
        while limit is None or deleted < limit:
            size = chunk if limit is None else min(chunk, limit - deleted)
            with conn.begin():
                gone = conn.execute(statement, {"cutoff": cutoff, "n": size}).scalars().all()
            deleted += len(gone)
            if limit is not None and gone:
                last = gone[-1] if last is None else max(last, *gone)
            if len(gone) < size:
                break
    return deleted, last


def _settle(engine: sa.Engine, horizon: dt.datetime | None, trimmed: list[dt.datetime]) -> None:
    """Move the state on and bring the catalogue and ``event_message`` up to date."""
    with engine.connect() as conn:
        with conn.begin():
            state.advance(conn, None if horizon is None else horizon.replace(tzinfo=dt.UTC))
            catalogue.forget_dropped(conn)
            for period in trimmed:
                catalogue.recheck(conn, period)
        if horizon is not None:
            with conn.begin():
                params = {"horizon": horizon}
                forgotten = conn.execute(_FORGET_MESSAGES, params).rowcount
            LOG.debug("forgot %d message ids of expired events", forgotten)


def delete_before(
    engine: sa.Engine,
    partitions: Partitions,
    cutoff: dt.datetime,
    max_count: int | None,
    chunk: int,
) -> int:
    """Delete up to ``max_count`` oldest events generated before ``cutoff``; how many."""
    cutoff = cutoff.astimezone(dt.UTC).replace(tzinfo=None)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        periods = attached(conn)
    whole, deleted = _whole_partitions(engine, periods, cutoff, max_count)
    partitions.drop(whole)
    trimmed: list[dt.datetime] = []
    horizon: dt.datetime | None = cutoff  # unless max_count stops us short
    for period in periods[len(whole) :]:
        left = None if max_count is None else max_count - deleted
        if period >= cutoff or left == 0:
            if left == 0 and whole:
                horizon = whole[-1] + PERIOD
            break
        count, last = _trim(engine, period, cutoff, left, chunk)
        deleted += count
        trimmed.append(period)
        if left is not None and count >= left:  # stopped by max_count
            horizon = last  # events of the last one's time may be left
            break
    _settle(engine, horizon, trimmed)
    return deleted


def _whole_partitions(
    engine: sa.Engine, periods: list[dt.datetime], cutoff: dt.datetime, max_count: int | None
) -> tuple[list[dt.datetime], int]:
    """The oldest partitions that end by ``cutoff`` and fit in ``max_count``; their events."""
    whole: list[dt.datetime] = []
    deleted = 0
    with engine.connect() as conn:
        for period in periods:
            if period + PERIOD > cutoff:
                break
            count = _count(conn, period)
            if max_count is not None and deleted + count > max_count:
                break
            whole.append(period)
            deleted += count
    return whole, deleted
