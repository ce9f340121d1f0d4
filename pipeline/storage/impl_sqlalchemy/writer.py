"""Writing a batch of events in a handful of statements.

Per batch, inside the caller's transaction: one SELECT (and, for new names,
one INSERT plus one SELECT) resolves event types; one multi-row INSERT that
skips existing message ids returns the ids of the events it stored; one
executemany per trait table stores the traits. The number of round trips does
not grow with the batch, except on MySQL/MariaDB, where statements are split
to stay under the server's ``max_allowed_packet`` and an event too large for
it fails alone (:mod:`.packet`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.exceptions import ConfigError, StorageUnavailable
from pipeline.models import Event, to_utc
from pipeline.storage.base import RecordResult
from pipeline.storage.impl_sqlalchemy import packet
from pipeline.storage.impl_sqlalchemy.engine import is_packet_too_large
from pipeline.storage.impl_sqlalchemy.schema import (
    MYSQL_DIALECTS,
    TRAIT_TABLES,
    event,
    event_type,
)
from pipeline.storage.limits import utf8_size


def insert_skipping(conn: sa.Connection, table: sa.Table, unique: str) -> Any:
    """An INSERT into ``table`` that silently skips rows whose ``unique`` column exists."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[unique])
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=[unique])
    if name in MYSQL_DIALECTS:
        # Names are length-checked before insert, so IGNORE cannot hide a
        # truncation; rows it skips for any other reason are caught below
        # because they are neither returned nor found stored.
        return sa.insert(table).prefix_with("IGNORE")
    raise ConfigError(f"the SQLAlchemy driver does not support the {name!r} dialect")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _raw_json(event: Event) -> tuple[str | None, str | None]:
    """(reason the event's raw cannot be stored or None, raw as JSON text or None).

    Names, lengths and text were checked above the drivers
    (:mod:`pipeline.storage.limits`); ``raw`` is stored as given, so text
    decoded from a JSON ``"\ud800"`` escape is escaped again, the only way
    UTF-8 text can carry it.
    """
    if event.raw is None:
        return None, None
    try:
        text = json.dumps(event.raw, default=_json_default, ensure_ascii=False)
        if utf8_size(text) is None:
            text = json.dumps(event.raw, default=_json_default)
    except (TypeError, ValueError) as err:
        return f"raw is not JSON serialisable: {err}", None
    return None, text


def event_type_ids(conn: sa.Connection, names: set[str]) -> dict[str, int]:
    """Ids of the event types ``names``, creating the missing ones (race-safe)."""
    query = sa.select(event_type.c.desc, event_type.c.id)
    found: dict[str, int] = dict(conn.execute(query.where(event_type.c.desc.in_(names))).all())
    # Rarely, expiry deletes a type between our insert and select: try again.
    for _ in range(3):
        missing = names - found.keys()
        if not missing:
            return found
        rows = [{"desc": name} for name in sorted(missing)]
        conn.execute(insert_skipping(conn, event_type, "desc"), rows)
        found.update(conn.execute(query.where(event_type.c.desc.in_(missing))).all())
    if names - found.keys():
        raise StorageUnavailable(f"event types {sorted(names - found.keys())} keep vanishing")
    return found


def _insert_events(conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows`` skipping stored message ids; {message_id: id} of those inserted."""
    if conn.dialect.name == "postgresql":
        return _insert_events_unnest(conn, rows)
    stmt = insert_skipping(conn, event, "message_id")
    if conn.dialect.insert_executemany_returning:
        returning = stmt.returning(event.c.message_id, event.c.id)
        return dict(conn.execute(returning, rows).all())
    # MySQL without RETURNING: note what exists first. A concurrent writer
    # inserting the same id in between makes the trait insert fail, and the
    # caller's event-by-event retry then reports it as a duplicate.
    ids = [row["message_id"] for row in rows]
    before = set(_stored_ids(conn, ids))
    conn.execute(stmt, rows)
    query = sa.select(event.c.message_id, event.c.id).where(event.c.message_id.in_(ids))
    return {mid: pk for mid, pk in conn.execute(query).all() if mid not in before}


#: One short statement whose four array parameters carry the whole batch:
#: PostgreSQL plans it once instead of parsing thousands of VALUES tuples.
_UNNEST_INSERT = sa.text(
    "INSERT INTO event (message_id, generated, event_type_id, raw) "
    "SELECT * FROM unnest(CAST(:message_ids AS text[]), CAST(:generated AS timestamp[]), "
    "CAST(:type_ids AS integer[]), CAST(:raws AS text[])) "
    "ON CONFLICT (message_id) DO NOTHING RETURNING message_id, id"
)


def _insert_events_unnest(conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    params = {
        "message_ids": [row["message_id"] for row in rows],
        "generated": [to_utc(row["generated"]).replace(tzinfo=None) for row in rows],
        "type_ids": [row["event_type_id"] for row in rows],
        "raws": [row["raw"] for row in rows],
    }
    return dict(conn.execute(_UNNEST_INSERT, params).all())


def _stored_ids(conn: sa.Connection, message_ids: Iterable[str]) -> list[str]:
    query = sa.select(event.c.message_id).where(event.c.message_id.in_(list(message_ids)))
    return list(conn.execute(query).scalars())


def write_batch(conn: sa.Connection, events: Sequence[Event]) -> RecordResult:
    """Store ``events`` (valid, batch-unique) in ``conn``'s open transaction."""
    result = RecordResult()
    rows: list[dict[str, Any]] = []
    accepted: list[Event] = []
    limit = packet.packet_limit(conn)
    # Rows go in message id order so that concurrent writers of overlapping
    # batches take unique-key locks in the same order and cannot deadlock.
    for item in sorted(events, key=lambda candidate: candidate.message_id):
        reason, raw = _raw_json(item)
        if reason is None and limit is not None:
            reason = packet.oversized(conn, item, raw, limit)
        if reason is not None:
            result.failed[item.message_id] = reason
            continue
        accepted.append(item)
        rows.append({"message_id": item.message_id, "generated": item.generated, "raw": raw})
    if not accepted:
        return result
    type_ids = event_type_ids(conn, {item.event_type for item in accepted})
    for row, item in zip(rows, accepted, strict=True):
        row["event_type_id"] = type_ids[item.event_type]
    inserted: dict[str, int] = {}
    for part in [rows] if limit is None else packet.chunks(rows, limit):
        inserted.update(_insert_events(conn, list(part)))
    skipped = [item.message_id for item in accepted if item.message_id not in inserted]
    stored_before = set(_stored_ids(conn, skipped)) if skipped else set()
    for message_id in skipped:
        if message_id in stored_before:
            result.duplicates.append(message_id)
        else:
            result.failed[message_id] = "the database skipped the row without storing it"
    _insert_traits(conn, accepted, inserted)
    result.stored.extend(item.message_id for item in accepted if item.message_id in inserted)
    return result


def _insert_traits(conn: sa.Connection, events: Sequence[Event], ids: dict[str, int]) -> None:
    rows: dict[int, list[tuple[int, str, Any]]] = {dtype: [] for dtype in TRAIT_TABLES}
    for item in events:
        event_id = ids.get(item.message_id)
        if event_id is None:
            continue
        for trait in item.traits:
            rows[trait.dtype].append((event_id, trait.name, trait.value))
    copy = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    for dtype, trait_rows in rows.items():
        if not trait_rows:
            continue
        table = TRAIT_TABLES[dtype]
        if copy:
            _copy_rows(conn, table, trait_rows)
        else:
            executemany_rows(conn, table, ("event_id", "key", "value"), trait_rows)


def executemany_rows(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """One DBAPI executemany of ``rows``, tuples of the values of ``columns``.

    Skips SQLAlchemy's per-row parameter handling, which costs as much as
    SQLite's own work here; values go through the bind processor of each
    column type's dialect implementation, exactly as SQLAlchemy applies it
    to every other statement (filters included). The generic type's
    processor would skip SQLite's DATETIME formatting and leave datetimes to
    sqlite3's adapter, which drops a zero microsecond part: the stored text
    then no longer compares like the bound text.
    """
    dialect = conn.dialect
    compiled = sa.insert(table).compile(dialect=dialect, column_keys=list(columns))
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    # Column by column (zip transposes in C): one map per processed column.
    values: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else []
    if any(processors):
        values = [
            column if process is None else list(map(process, column))
            for process, column in zip(processors, values, strict=True)
        ]
    params: list[Any]
    if compiled.positional:
        order = [list(columns).index(name) for name in compiled.positiontup or ()]
        params = list(zip(*(values[i] for i in order), strict=True))
    else:
        params = [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
    limit = packet.packet_limit(conn)

    def insert(cursor: Any) -> None:
        if limit is not None and hasattr(cursor, "max_stmt_length"):
            # MySQL clients join the rows into statements of this many bytes.
            cursor.max_stmt_length = min(cursor.max_stmt_length, limit - packet.SLACK)
        cursor.executemany(compiled.string, params)

    _driver_call(conn, compiled.string, insert)


def _driver_call(conn: sa.Connection, statement: str, call: Callable[[Any], Any]) -> None:
    """Run ``call(cursor)`` on the DBAPI connection of ``conn``'s transaction.

    Errors are raised by the driver, not through SQLAlchemy: wrap them the
    same way so the caller's error handling sees SQLAlchemy's classes, and
    drop the connection a statement too large for the server cost us (as
    :mod:`.engine` has SQLAlchemy do for its own statements).
    """
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor = conn.connection.cursor()
        try:
            call(cursor)
        finally:
            cursor.close()
    except dbapi.Error as err:
        if is_packet_too_large(err):
            conn.invalidate(err)
        raise exc.DBAPIError.instance(statement, None, err, dbapi.Error) from err


#: PostgreSQL type of each trait table's value, for binary COPY.
_COPY_TYPES = {
    "trait_text": "text",
    "trait_int": "int8",
    "trait_float": "float8",
    "trait_datetime": "timestamp",
}


def _copy_rows(conn: sa.Connection, table: sa.Table, rows: list[tuple[int, str, Any]]) -> None:
    """PostgreSQL COPY: many times faster than any INSERT for thousands of rows."""
    statement = f"COPY {table.name} (event_id, key, value) FROM STDIN (FORMAT BINARY)"
    if rows and isinstance(rows[0][2], dt.datetime):  # stored as naive UTC, like UTCDateTime
        rows = [(pk, key, to_utc(value).replace(tzinfo=None)) for pk, key, value in rows]

    binary_copy(conn, statement, ["int8", "varchar", _COPY_TYPES[table.name]], rows)


def binary_copy(
    conn: sa.Connection, statement: str, types: list[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL: one binary ``COPY ... FROM STDIN`` of ``rows``, values of ``types``.

    ``rows`` may be a generator: psycopg sends what it has while the rest
    is made, so the database inserts while this process encodes.
    """

    def copy_all(cursor: Any) -> None:
        with cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    _driver_call(conn, statement, copy_all)
