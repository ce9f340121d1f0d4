"""Moving the events of the previous PostgreSQL layout into this one, online.

Migration 0005 moves a database's previous event tables, when they hold
events, to the schema :data:`LEGACY_SCHEMA`. ``upgrade()`` (``pipeline
dbsync``) then calls :func:`copy_legacy`, which moves them over in
transactions of :data:`BATCH` events each: one statement takes the oldest
rows of ``pipeline_legacy.event`` (``FOR UPDATE SKIP LOCKED``), builds each
one's trait document from the four trait tables, inserts it into ``event``
with its ``event_message`` and catalogue rows, and deletes what it moved. Progress is logged
after every batch; an interrupted copy resumes where it stopped, and runs
in one process at a time (an advisory lock). Once the previous tables are
empty the schema is dropped.

Meanwhile the driver serves both (:mod:`.legacy`): reads take the previous
tables first, then this layout, and merge, and writers look for duplicates
in both. A batch either committed (its events are here) or did not (they
are there), so nothing is lost or doubled.

Values convert exactly: ``bigint`` and text as they are, ``double
precision`` through its shortest round-trip text (``to_jsonb``),
timestamps as the fixed-width text of :mod:`.documents`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa

from pipeline.storage.impl_sqlalchemy.pg_events.documents import DTYPES, TYPE_KEYS
from pipeline.storage.impl_sqlalchemy.pg_events.partitions import Partitions

LOG = logging.getLogger(__name__)
LEGACY_SCHEMA = "pipeline_legacy"
#: Events moved per transaction.
BATCH = 5000
#: Advisory lock of the copy: b"pl-copy!" as a bigint.
COPY_LOCK = int.from_bytes(b"pl-copy!", "big")
_DATETIME_TEXT = """to_char(t.value, 'YYYY-MM-DD"T"HH24:MI:SS.US')"""


def _agg(kind: str) -> str:
    value = _DATETIME_TEXT if kind == "datetime" else "t.value"
    return (
        f"'{kind}', (SELECT jsonb_object_agg(t.key, {value}) "
        f"FROM {LEGACY_SCHEMA}.trait_{kind} t WHERE t.event_id = b.id)"
    )


def _names(kind: str) -> str:
    return (
        f"SELECT t.key, {DTYPES[kind]} FROM {LEGACY_SCHEMA}.trait_{kind} t WHERE t.event_id = b.id"
    )


_KINDS = tuple(TYPE_KEYS.values())


def _move_statement() -> str:
    """One batch in one statement (see the module docstring).

    Every part of a WITH sees the same snapshot, so the trait documents are
    built from the rows the last parts delete.
    """
    document = ", ".join(_agg(kind) for kind in _KINDS)
    names = " UNION ALL ".join(_names(kind) for kind in _KINDS)
    deletes = "".join(
        f", drop_{kind} AS (DELETE FROM {LEGACY_SCHEMA}.trait_{kind} "
        "WHERE event_id IN (SELECT id FROM batch))"
        for kind in _KINDS
    )
    return f"""WITH batch AS (
    DELETE FROM {LEGACY_SCHEMA}.event WHERE id IN (
        SELECT id FROM {LEGACY_SCHEMA}.event ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING id, message_id, generated, event_type_id, raw
), moved AS (
    INSERT INTO event (message_id, generated, event_type_id, traits, raw)
    SELECT b.message_id, b.generated, b.event_type_id,
           jsonb_strip_nulls(jsonb_build_object({document})), b.raw
    FROM batch b
    ON CONFLICT DO NOTHING
    RETURNING 1
), claimed AS (
    INSERT INTO event_message (message_id, generated)
    SELECT b.message_id, b.generated FROM batch b ORDER BY 1
    ON CONFLICT DO NOTHING
), catalogued AS (
    INSERT INTO event_catalogue (period, event_type_id, trait_name, dtype)
    SELECT DISTINCT date_trunc('day', b.generated), b.event_type_id, n.key, n.dtype
    FROM batch b CROSS JOIN LATERAL (SELECT '' AS key, 0 AS dtype UNION ALL {names}) n
    ORDER BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING
){deletes}
SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM moved)"""


_MOVE = sa.text(_move_statement())
_NEXT_DAYS = sa.text(
    f"SELECT DISTINCT generated FROM (SELECT generated FROM {LEGACY_SCHEMA}.event "
    "ORDER BY id LIMIT :n) AS next"
)
_PRESENT = sa.text(f"SELECT to_regclass('{LEGACY_SCHEMA}.event') IS NOT NULL")


def legacy_present(conn: sa.Connection) -> bool:
    """Whether the previous layout's tables are still there (a copy is due or running)."""
    return bool(conn.execute(_PRESENT).scalar())


def _move_batch(engine: sa.Engine, partitions: Partitions, size: int) -> tuple[int, int]:
    """Move the next ``size`` events; (taken from the previous tables, inserted here)."""
    with engine.connect() as conn:
        days = list(conn.execute(_NEXT_DAYS, {"n": size}).scalars())
    partitions.ensure(days)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL extra_float_digits = 1")  # shortest exact floats
        taken, moved = conn.execute(_MOVE, {"n": size}).one()
    return int(taken), int(moved)


def copy_legacy(
    engine: sa.Engine,
    partitions: Partitions,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Move every event of the previous tables here, then drop them; how many moved.

    ``progress(done, total)`` is called after each batch (the default logs
    it). Returns at once when another process holds the copy's lock: it is
    doing the work.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not legacy_present(conn):
            return 0
        if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": COPY_LOCK}).scalar():
            LOG.info("another process is copying the previous event tables")
            return 0
        try:
            return _copy_all(engine, conn, partitions, batch, progress or _log_progress)
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": COPY_LOCK})


def _copy_all(
    engine: sa.Engine,
    conn: sa.Connection,
    partitions: Partitions,
    batch: int,
    progress: Callable[[int, int], None],
) -> int:
    if not legacy_present(conn):  # finished while we waited for the lock
        return 0
    total = int(conn.exec_driver_sql(f"SELECT count(*) FROM {LEGACY_SCHEMA}.event").scalar_one())
    LOG.info("copying %d events of the previous layout, %d per transaction", total, batch)
    done = moved = 0
    started = time.monotonic()
    while True:
        taken, inserted = _move_batch(engine, partitions, batch)
        done += taken
        moved += inserted
        if not taken:
            break
        progress(done, max(total, done))
    conn.exec_driver_sql(f"DROP SCHEMA {LEGACY_SCHEMA} CASCADE")
    LOG.info(
        "copied %d events (%d already here) in %.0f s; previous tables dropped",
        moved,
        done - moved,
        time.monotonic() - started,
    )
    return moved


def _log_progress(done: int, total: int) -> None:
    LOG.info("copied %d of %d events (%.0f%%)", done, total, 100 * done / max(total, 1))
