"""PostgreSQL bulk paths of the ticket writer (psycopg 3): one lookup, one upsert, one COPY.

The generic writer looks stored occurrence keys up in chunks, runs the
upsert once per ticket (executemany) and then SELECTs the ids; here the key
lookup is one ``= ANY(array)`` query, the whole chunk is one ``INSERT ...
SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE ... RETURNING`` (rows are
processed in array order, so the sorted groups still lock in key order),
and the occurrences go in with ``COPY``, several times faster than INSERT.
The upsert is built from the same rows and assignments (:mod:`.ticket_bumps`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql

from pipeline.storage.impl_sqlalchemy.ticket_bumps import assignments, ticket_rows
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


#: The array type of each ticket column in the bulk upsert.
_ARRAY_TYPES = {
    "app_id": "varchar",
    "record_hash": "varchar",
    "level": "integer",
    "channel": "varchar",
    "location": "varchar",
    "module": "varchar",
    "first_occurrence_time": "timestamp",
    "last_occurrence_time": "timestamp",
    "occurrence_count": "bigint",
    "status": "varchar",
    "solved": "boolean",
}


@functools.lru_cache(maxsize=32)
def _upsert_statement(table: sa.Table, dialect: sa.Dialect, columns: tuple[str, ...]) -> str:
    """The bulk upsert of ``columns`` into ``table``, its SET clause compiled from
    :func:`.ticket_bumps.assignments` (only the quoted names and the rules'
    constants are interpolated; the rows are bound arrays)."""
    preparer = dialect.identifier_preparer
    excluded = postgresql.insert(table).excluded
    bumps = ", ".join(
        f"{preparer.quote(column)} = "
        f"{expression.compile(dialect=dialect, compile_kwargs={'literal_binds': True})}"
        for column, expression in assignments(table, excluded)
    )
    arrays = ", ".join(f"%s::{_ARRAY_TYPES[column]}[]" for column in columns)
    return f"""
        INSERT INTO {preparer.format_table(table)} ({", ".join(map(preparer.quote, columns))})
        SELECT * FROM unnest({arrays})
        ON CONFLICT (app_id, record_hash) DO UPDATE SET {bumps}
        RETURNING app_id, record_hash, ticket_id, occurrence_count
    """


def _array_value(value: Any) -> Any:
    return _naive_utc(value) if isinstance(value, dt.datetime) else value


def upsert(
    conn: sa.Connection, table: sa.Table, groups: Sequence[TicketGroup]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Create or bump every group's ticket in one statement; by key, its id and
    its count after the upsert."""
    rows = ticket_rows(groups)
    columns = tuple(rows[0])
    query = _upsert_statement(table, conn.dialect, columns)
    params = [[_array_value(row[column]) for row in rows] for column in columns]
    dbapi: Any = conn.connection.dbapi_connection
    with _as_sqlalchemy_errors(conn, query), dbapi.cursor() as cursor:
        cursor.execute(query, params)
        return {
            (app_id, key): (ticket_id, count) for app_id, key, ticket_id, count in cursor.fetchall()
        }


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
