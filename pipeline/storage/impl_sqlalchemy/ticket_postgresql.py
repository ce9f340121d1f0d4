"""PostgreSQL bulk paths of the ticket writer (psycopg 3): one lookup, one upsert, one COPY.

The generic writer looks stored occurrence keys up in chunks, runs the
upsert once per ticket (executemany) and then SELECTs the ids; here the key
lookup is one ``= ANY(array)`` query, the whole chunk is one ``INSERT ...
SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE ... RETURNING`` (rows are
processed in array order, so the sorted groups still lock in key order),
and the occurrences go in with ``COPY``, several times faster than INSERT.
The upsert has the same semantics as :func:`.ticket_writes._bumps`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from pipeline.models import TicketStatus
from pipeline.storage.tickets import TicketGroup


def supported(conn: sa.Connection) -> bool:
    """True when ``conn`` is PostgreSQL through psycopg 3."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


@contextlib.contextmanager
def _as_sqlalchemy_errors(conn: sa.Connection, statement: str) -> Iterator[None]:
    """Raise psycopg errors as SQLAlchemy's, as if SQLAlchemy had run ``statement``.

    The driver translates SQLAlchemy errors (and retries deadlocks) by
    class and SQLSTATE; errors of the raw cursor used here must look the same.
    """
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as err:
        raise exc.DBAPIError.instance(
            statement, None, err, dbapi.Error, dialect=conn.dialect
        ) from err


def _naive_utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def upsert(
    conn: sa.Connection, table: sa.Table, groups: Sequence[TicketGroup]
) -> dict[tuple[str, str], int]:
    """Create or bump every group's ticket in one statement; their ids by key."""
    name = conn.dialect.identifier_preparer.format_table(table)
    solved, regressed = TicketStatus.SOLVED.value, TicketStatus.REGRESSED.value
    query = f"""
        INSERT INTO {name} AS t (app_id, record_hash, level, channel, location, module,
            first_occurrence_time, last_occurrence_time, occurrence_count, solved, status)
        SELECT u.*, false, '{TicketStatus.OPEN.value}' FROM unnest(
            %s::varchar[], %s::varchar[], %s::integer[], %s::varchar[], %s::varchar[],
            %s::varchar[], %s::timestamp[], %s::timestamp[], %s::bigint[]) AS u
        ON CONFLICT (app_id, record_hash) DO UPDATE SET
            occurrence_count = t.occurrence_count + excluded.occurrence_count,
            first_occurrence_time = LEAST(t.first_occurrence_time, excluded.first_occurrence_time),
            last_occurrence_time = GREATEST(t.last_occurrence_time, excluded.last_occurrence_time),
            status = CASE WHEN t.status = '{solved}' THEN '{regressed}' ELSE t.status END,
            solved = false
        RETURNING app_id, record_hash, ticket_id
    """  # only the quoted table name and constants are interpolated
    params = (
        [g.app_id for g in groups],
        [g.record_hash for g in groups],
        [g.level for g in groups],
        [g.channel for g in groups],
        [g.location for g in groups],
        [g.module for g in groups],
        [_naive_utc(g.first_time) for g in groups],
        [_naive_utc(g.last_time) for g in groups],
        [g.count for g in groups],
    )
    dbapi: Any = conn.connection.dbapi_connection
    with _as_sqlalchemy_errors(conn, query), dbapi.cursor() as cursor:
        cursor.execute(query, params)
        return {(app_id, key): ticket_id for app_id, key, ticket_id in cursor.fetchall()}


def stored_keys(conn: sa.Connection, table: sa.Table, keys: Sequence[str]) -> set[str]:
    """Those of the occurrence ``keys`` that ``table`` holds already."""
    name = conn.dialect.identifier_preparer.format_table(table)
    query = f"SELECT occurrence_key FROM {name} WHERE occurrence_key = ANY(%s::varchar[])"
    dbapi: Any = conn.connection.dbapi_connection
    with _as_sqlalchemy_errors(conn, query), dbapi.cursor() as cursor:
        cursor.execute(query, (list(keys),))
        return {key for (key,) in cursor.fetchall()}


def copy_occurrences(
    conn: sa.Connection, table: sa.Table, rows: Iterable[tuple[int, dt.datetime, str, str, str]]
) -> None:
    """Write ``(ticket_id, time, app_id, data JSON, occurrence key)`` rows with COPY."""
    name = conn.dialect.identifier_preparer.format_table(table)
    statement = (
        f'COPY {name} (ticket_id, "time", app_id, data, occurrence_key) FROM STDIN (FORMAT BINARY)'
    )
    dbapi: Any = conn.connection.dbapi_connection
    with (
        _as_sqlalchemy_errors(conn, statement),
        dbapi.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        copy.set_types(["bigint", "timestamp", "varchar", "text", "varchar"])
        for ticket_id, when, app_id, text, key in rows:
            copy.write_row((ticket_id, _naive_utc(when), app_id, text, key))
