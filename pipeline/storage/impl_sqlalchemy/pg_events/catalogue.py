"""The catalogue: which event types, trait names and trait types each partition holds.

``get_event_types`` and ``get_trait_types`` read ``event_catalogue`` (a few
rows per event type, trait and day) instead of the events. It stays exact:

* a writer adds the rows of its batch in the batch's transaction, so they
  commit together with the events. It remembers the rows it knows are
  stored (:class:`Known`) and sends only the others, most batches none;
* expiry deletes the rows of the partitions it dropped
  (:func:`forget_dropped`), and after deleting some of a partition's events
  checks each row of that partition against the events left
  (:func:`recheck`).

What keeps both exact together is the epoch of ``event_state``
(:mod:`.state`): a writer reads it ``FOR SHARE`` in each batch
(:meth:`Known.begin`), and expiry moves it on in the transaction where it
deletes catalogue rows, before it does (callers of :func:`forget_dropped`
and :func:`recheck` must). Expiry therefore waits for the batches in flight
and holds new ones back until it commits, so no event slips in unseen
between its check and the deletion of a row; and every writer then sees a
new epoch and forgets what it knew, so it adds the rows of its next batches
again.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pipeline.storage.impl_sqlalchemy.pg_events.documents import TYPE_KEYS
from pipeline.storage.impl_sqlalchemy.pg_events.partitions import PERIOD, attached

_RECORD = sa.text(
    "INSERT INTO event_catalogue (period, event_type_id, dtype, trait_name) "
    "SELECT * FROM unnest(CAST(:periods AS timestamp[]), CAST(:types AS integer[]), "
    "CAST(:dtypes AS smallint[]), CAST(:names AS text[])) "
    "ON CONFLICT DO NOTHING"
)
_FORGET = sa.text(
    "DELETE FROM event_catalogue WHERE NOT period = ANY(CAST(:periods AS timestamp[]))"
)
#: A catalogue row of the period that no event of the period backs any more.
_UNBACKED = (
    "DELETE FROM event_catalogue c WHERE c.period = :period AND NOT EXISTS ("
    "SELECT 1 FROM event e WHERE e.generated >= :period AND e.generated < :end "
    "AND e.event_type_id = c.event_type_id AND (c.dtype = 0 OR CASE c.dtype "
    + " ".join(
        f"WHEN {dtype} THEN (e.traits -> '{key}') ? c.trait_name"
        for dtype, key in TYPE_KEYS.items()
    )
    + " END))"
)
_TYPES = sa.text(
    'SELECT DISTINCT t."desc" FROM event_catalogue c JOIN event_type t ON t.id = c.event_type_id '
    "WHERE c.dtype = 0"
)
_TRAIT_TYPES = sa.text(
    "SELECT DISTINCT c.trait_name, c.dtype FROM event_catalogue c "
    'JOIN event_type t ON t.id = c.event_type_id WHERE t."desc" = :event_type AND c.dtype > 0'
)


#: (period, event type id, dtype) -> trait names; dtype 0 holds the name "".
Rows = dict[tuple[dt.datetime, int, int], set[str]]


class Known:
    """The catalogue rows a writer knows are stored, for one epoch (see the module docstring)."""

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.rows: Rows = {}
        self._pending: list[tuple[dt.datetime, int, int, str]] = []

    def begin(self, epoch: int) -> None:
        """A batch saw ``epoch`` (:func:`.state.read`): forget all if it moved."""
        if epoch != self.epoch:
            self.epoch, self.rows = epoch, {}
            self._pending.clear()

    def record(self, conn: sa.Connection, rows: Rows) -> None:
        """Add those of ``rows`` not known to be stored, in ``conn``'s transaction."""
        missing = []
        for key, names in rows.items():
            known = self.rows.get(key)
            for name in names if known is None else names - known:
                missing.append((*key, name))
        if not missing:
            return
        missing.sort()  # one order for every writer: no deadlock on new rows
        conn.execute(
            _RECORD,
            {
                "periods": [row[0] for row in missing],
                "types": [row[1] for row in missing],
                "dtypes": [row[2] for row in missing],
                "names": [row[3] for row in missing],
            },
        )
        self._pending.extend(missing)

    def committed(self) -> None:
        """The transaction committed: what it added is stored."""
        for period, type_id, dtype, name in self._pending:
            self.rows.setdefault((period, type_id, dtype), set()).add(name)
        self._pending.clear()

    def rolled_back(self) -> None:
        """The transaction rolled back: what it added is not stored."""
        self._pending.clear()


def forget_dropped(conn: sa.Connection) -> int:
    """Delete the rows of every period that has no partition (any more); how many.

    The caller has moved the epoch on in this transaction, so the partitions
    are listed once every writer that added one and wrote into it has
    committed (later ones wait for us).
    """
    result = conn.execute(_FORGET, {"periods": attached(conn)})
    return int(result.rowcount)


def recheck(conn: sa.Connection, period: dt.datetime) -> int:
    """Delete the rows of ``period`` that no remaining event backs; how many."""
    result = conn.execute(sa.text(_UNBACKED), {"period": period, "end": period + PERIOD})
    return int(result.rowcount)


def event_types(conn: sa.Connection) -> list[str]:
    """Event types that have events, sorted by code point."""
    return sorted(conn.execute(_TYPES).scalars())


def trait_types(conn: sa.Connection, event_type: str) -> list[tuple[str, int]]:
    """(name, dtype) of the traits of ``event_type``'s events, sorted."""
    rows = conn.execute(_TRAIT_TYPES, {"event_type": event_type}).all()
    return sorted((name, dtype) for name, dtype in rows)
