"""Keeping MySQL/MariaDB statements under the server's ``max_allowed_packet``.

MariaDB refuses a statement larger than ``max_allowed_packet`` (16 MiB by
default; MySQL 8 has 64 MiB) and closes the connection: error 1153, or 2006
"server has gone away" when it hangs up while the client is still sending.
Both look like an outage, so one event too large for the server would be
retried forever, and a batch of ordinary events whose multi-row INSERT adds
up past the limit could never be stored. So, on MySQL and MariaDB, the
writer

* refuses an event one of whose rows (the event with its raw notification,
  or one trait) cannot fit in a statement, naming the limit: it fails alone
  (:func:`oversized`);
* splits multi-row inserts so that every statement fits (:func:`chunks`).

Sizes are bounded without encoding anything (a character is at most four
bytes of UTF-8, and escaping at most doubles it); only a value near the
limit is measured exactly, with the client library's own escaping.
Should the server still refuse a statement (a proxy with a smaller limit),
error 1153 is translated into that event's failure
(:mod:`.engine`, :meth:`.events.SQLEvents._write_one_by_one`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from pipeline.models import Event, Trait
from pipeline.storage.impl_sqlalchemy.schema import MYSQL_DIALECTS
from pipeline.storage.limits import MAX_EVENT_TEXT_BYTES

#: Bytes of a statement that are not the big values: its SQL text, names
#: (255 characters, at most 2 KiB escaped, each), numbers and datetimes.
SLACK = 16 * 1024
#: Key of the cached limit in a DBAPI connection's ``info``.
_INFO_KEY = "pipeline_max_allowed_packet"


def packet_limit(conn: sa.Connection) -> int | None:
    """``max_allowed_packet`` of ``conn``'s server in bytes; None unless MySQL/MariaDB.

    Read once per DBAPI connection: the session value is fixed at connect.
    """
    if conn.dialect.name not in MYSQL_DIALECTS:
        return None
    info = conn.connection.info
    limit = info.get(_INFO_KEY)
    if limit is None:
        limit = info[_INFO_KEY] = int(
            conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one()
        )
    return int(limit)


def _bound(text: str) -> int:
    """Most bytes ``text`` can take as an escaped SQL literal."""
    return 2 * (len(text) if text.isascii() else 4 * len(text)) + 2


def _exact(conn: sa.Connection, text: str) -> int:
    """Bytes ``text`` takes as the client library's SQL literal (PyMySQL's escaping).

    Another client library gets the upper bound: never too little.
    """
    try:
        literal = conn.connection.dbapi_connection.escape(text)  # type: ignore[union-attr]
    except (AttributeError, TypeError):  # mysqlclient's escape() wants a mapping too
        return _bound(text)
    return len(literal.encode("utf-8") if isinstance(literal, str) else literal)


def oversized(conn: sa.Connection, event: Event, raw: str | None, limit: int) -> str | None:
    """Why a row of ``event`` cannot fit in one statement under ``limit``, or None.

    ``raw`` is the event's raw notification as the JSON text to be stored.
    """
    room = limit - SLACK
    values = [("raw", raw)] if raw is not None else []
    if room < 2 * MAX_EVENT_TEXT_BYTES + 2:
        # Text values are at most MAX_EVENT_TEXT_BYTES of UTF-8, so only a
        # packet smaller than the default needs them looked at.
        values += [
            (f"trait {trait.name!r} value", trait.value)
            for trait in event.traits
            if trait.dtype == Trait.TEXT_TYPE
        ]
    for what, text in values:
        if _bound(text) > room:
            size = _exact(conn, text)
            if size > room:
                return (
                    f"{what} is {size} bytes as a MySQL literal; this server's "
                    f"max_allowed_packet of {limit} bytes cannot carry it"
                )
    return None


def row_bound(row: dict[str, Any]) -> int:
    """Most bytes one ``event`` row (message id, generated, type id, raw) takes."""
    raw = row["raw"]
    return _bound(row["message_id"]) + (0 if raw is None else _bound(raw)) + 64


def chunks(rows: Sequence[dict[str, Any]], limit: int) -> Iterator[Sequence[dict[str, Any]]]:
    """``rows`` in consecutive runs whose statement stays under ``limit`` bytes.

    Every row must fit alone (:func:`oversized` refused the others).
    """
    room = limit - SLACK
    start, size = 0, 0
    for index, row in enumerate(rows):
        bound = row_bound(row)
        if size + bound > room and index > start:
            yield rows[start:index]
            start, size = index, 0
        size += bound
    if start < len(rows):
        yield rows[start:]
