"""A page's traits from a Panko SQLite file, read with the sqlite3 module itself.

:class:`~pipeline.importers.panko.PankoReader` reads Panko's tables through
SQLAlchemy, whatever the database. A page of 1,000 events holds some
15,000 trait rows, and for an SQLite file (read with this process's own CPU)
SQLAlchemy's handling of each row cost more than SQLite's work. Here the
four trait tables are read on the reader's own connection with plain DBAPI
cursors: the rows come out as the ``(event_id, key, dtype, value)`` tuples
the reader groups, with no Python code run per row.

The values are what SQLAlchemy's column types give for SQLite: text, int
and float as stored; datetimes, stored as text, parsed with
``datetime.fromisoformat`` (what SQLAlchemy's SQLite ``DATETIME`` does),
naive meaning UTC as Panko wrote them, made aware UTC for a whole page in
one pass of C loops. Panko's text has no offset; any other stored form
(an offset, a date alone) or a NULL is parsed one by one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import exc

from pipeline.models import Trait, to_utc

#: Each trait table with the dtype of its values.
TABLES = (
    ("trait_text", Trait.TEXT_TYPE),
    ("trait_int", Trait.INT_TYPE),
    ("trait_float", Trait.FLOAT_TYPE),
    ("trait_datetime", Trait.DATETIME_TYPE),
)
#: Most ids bound in one ``IN`` list (older SQLite builds allow 999 variables).
IN_CHUNK = 500

Row = tuple[int, str, int, Any]
_UTC_SUFFIX = "+00:00"
_FROM_ISO = dt.datetime.fromisoformat


def trait_rows(conn: sqlite3.Connection, ids: Sequence[int], scan: bool) -> Iterator[list[Row]]:
    """Each trait table's rows of the events ``ids`` (ascending), in runs by event id.

    ``scan`` reads the whole id range ``ids[0]..ids[-1]`` (one range scan of
    the key; rows of events in between that are not in ``ids`` come too and
    are the caller's to skip); otherwise exactly ``ids`` are asked for.
    """
    for table, dtype in TABLES:
        # The table name and dtype are this module's constants, never input.
        select = f'SELECT event_id, "key", {dtype}, value FROM {table} WHERE event_id '
        if scan:
            found = _fetched(conn, select + "BETWEEN ? AND ? ORDER BY event_id", (ids[0], ids[-1]))
        else:
            found = []
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                found += _fetched(conn, f"{select}IN ({marks}) ORDER BY event_id", chunk)
        yield datetimes_parsed(found) if dtype == Trait.DATETIME_TYPE else found


def _fetched(conn: sqlite3.Connection, statement: str, params: Sequence[int]) -> list[Row]:
    """The rows of ``statement``; sqlite3's errors raised as SQLAlchemy raises them,
    which the reader's callers translate (a missing table, a locked file, ...)."""
    try:
        return conn.execute(statement, params).fetchall()
    except sqlite3.Error as err:
        raise exc.DBAPIError.instance(statement, params, err, sqlite3.Error) from err


def datetimes_parsed(rows: list[Row]) -> list[Row]:
    """``rows`` with their text values made aware UTC datetimes (see the module docstring)."""
    if not rows:
        return rows
    ids, keys, dtypes, texts = zip(*rows, strict=True)
    values: list[dt.datetime | None]
    try:
        values = list(map(_FROM_ISO, map(operator.add, texts, itertools.repeat(_UTC_SUFFIX))))
    except (TypeError, ValueError):  # NULL, or a form other than Panko's: one by one
        values = [None if text is None else to_utc(_FROM_ISO(text)) for text in texts]
    return list(zip(ids, keys, dtypes, values, strict=True))
