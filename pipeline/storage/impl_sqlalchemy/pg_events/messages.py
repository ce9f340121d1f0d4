"""``event_message``: one row per stored message id, unique across all partitions.

A unique index of a partitioned table must hold the partition key, so
``event`` cannot keep message ids unique on its own; this table does, with
one primary key. A writer *claims* the ids of its batch (:func:`claim`): one
lookup, one binary COPY of the new ones, and the primary key makes that
exact also when two writers store the same id at the same moment (see
there). The claim costs one index entry per event, whatever the number of
partitions.

Expiry drops partitions without touching this table, then moves the
horizon of :mod:`.state` and deletes the rows of the events it deleted
afterwards (:mod:`.expiry`). A row older than the horizon may be stale —
its event expired — or not (an event older than the cutoff written after
expiry): so when a claim meets such a row, it looks for the event and, when
it is gone, takes the row over. Newer rows are live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa

from pipeline.storage.impl_sqlalchemy import writer

_CLAIM = sa.text(
    "INSERT INTO event_message (message_id, generated) "
    "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:generated AS timestamp[])) "
    "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)
_FOUND = sa.text(
    "SELECT message_id, generated FROM event_message WHERE message_id = ANY(CAST(:ids AS text[]))"
)
_COPY = "COPY event_message (message_id, generated) FROM STDIN (FORMAT BINARY)"
_STORED = sa.text(
    "SELECT e.message_id FROM event e JOIN unnest(CAST(:ids AS text[]), "
    "CAST(:generated AS timestamp[])) AS s(message_id, generated) "
    "ON e.generated = s.generated AND e.message_id = s.message_id"
)
#: Take stale rows over, unless another writer did first (its ``generated`` changed).
_TAKE_OVER = sa.text(
    "UPDATE event_message AS r SET generated = s.new "
    "FROM unnest(CAST(:ids AS text[]), CAST(:old AS timestamp[]), CAST(:new AS timestamp[])) "
    "AS s(message_id, old, new) "
    "WHERE r.message_id = s.message_id AND r.generated = s.old RETURNING r.message_id"
)


def claim(
    conn: sa.Connection,
    generated: Mapping[str, dt.datetime],
    horizon: dt.datetime | None,
) -> set[str]:
    """Which of the message ids (keys of ``generated``, naive UTC values) are new.

    Claims them in ``conn``'s transaction; the others belong to stored
    events. ``horizon``: :attr:`.state.State.horizon`. Several ids are
    looked up, and the new ones copied in: should another writer be
    claiming one of them right now, the copy fails on the primary key and
    the driver writes the batch again event by event, each claimed with
    ``INSERT ... ON CONFLICT DO NOTHING``, which waits for the other writer.
    """
    ids = sorted(generated)  # one order for every writer: no deadlock
    claimed: set[str] = set()
    if len(ids) == 1:
        single = {"ids": ids, "generated": [generated[ids[0]]]}
        if conn.execute(_CLAIM, single).first() is not None:
            return set(ids)
    found = {mid: at for mid, at in conn.execute(_FOUND, {"ids": ids})}
    if len(ids) > 1:
        claimed = {i for i in ids if i not in found}
        if claimed:
            _copy(conn, [(i, generated[i]) for i in ids if i in claimed])
    if horizon is not None:
        behind = {i: at for i, at in found.items() if at < _naive(horizon)}
        claimed |= _take_over(conn, behind, generated)
    return claimed


def _copy(conn: sa.Connection, rows: list[tuple[str, dt.datetime]]) -> None:
    """Binary COPY of (message_id, generated) rows into ``event_message``."""
    writer.binary_copy(conn, _COPY, ["varchar", "timestamp"], rows)


def _take_over(
    conn: sa.Connection, behind: Mapping[str, dt.datetime], generated: Mapping[str, dt.datetime]
) -> set[str]:
    """Take over the rows ``behind`` the horizon (id: its time) whose event is gone."""
    if not behind:
        return set()
    ids = sorted(behind)
    stored = conn.execute(_STORED, {"ids": ids, "generated": [behind[i] for i in ids]}).scalars()
    gone = sorted(set(ids) - set(stored))
    if not gone:
        return set()
    params = {
        "ids": gone,
        "old": [behind[i] for i in gone],
        "new": [generated[i] for i in gone],
    }
    return set(conn.execute(_TAKE_OVER, params).scalars())


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)
