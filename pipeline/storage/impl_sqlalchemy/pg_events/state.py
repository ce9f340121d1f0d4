"""``event_state``: the one row writers and expiry agree through.

It holds the catalogue's epoch (:mod:`.catalogue`) and the expiry horizon:
expiry deleted the events generated before it, so an ``event_message`` row
of an earlier time may be stale. Only may: an event older than the cutoff
can be written after expiry, so whoever acts on such a row looks for its
event first (:mod:`.messages`, :mod:`.expiry`).

A writer reads the row ``FOR SHARE`` once per batch (:func:`read`) and
holds it until its batch commits; expiry updates it (:func:`advance`),
which waits for the batches in flight and holds back new ones until expiry
commits. So a batch sees either the old horizon and epoch with all that
they describe, or the new ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from pipeline.storage.impl_sqlalchemy.pg_events.schema import event_state


@dataclass(frozen=True)
class State:
    """The row as a batch saw it; ``horizon`` is None before any expiry."""

    epoch: int
    horizon: dt.datetime | None


def read(conn: sa.Connection) -> State:
    """The row, held ``FOR SHARE`` until ``conn``'s transaction ends."""
    query = sa.select(event_state.c.epoch, event_state.c.horizon).with_for_update(read=True)
    epoch, horizon = conn.execute(query).one()
    return State(int(epoch), horizon)


def advance(conn: sa.Connection, horizon: dt.datetime | None) -> None:
    """Move the epoch on, and the horizon to ``horizon`` (aware UTC) if that is later.

    Call at the start of expiry's catalogue transaction: it waits for the
    batches in flight.
    """
    conn.execute(sa.update(event_state).values(epoch=event_state.c.epoch + 1))  # the lock
    if horizon is None:
        return
    current = conn.execute(sa.select(event_state.c.horizon)).scalar()
    if current is None or current < horizon:
        conn.execute(sa.update(event_state).values(horizon=horizon))


def bump(conn: sa.Connection) -> None:
    """Move the epoch on (everything the catalogue caches is to be read again)."""
    advance(conn, None)
