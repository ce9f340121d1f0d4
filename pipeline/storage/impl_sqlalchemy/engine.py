"""Engines from pipeline URLs, SQLite tuning, and database error translation.

URL normalisation: a bare ``postgresql://`` uses psycopg 3, a bare
``mysql://`` or ``mariadb://`` uses PyMySQL with ``charset=utf8mb4``; an
explicit ``+driver`` is kept. A missing client library raises
:class:`MissingExtra` naming the extra that installs it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc

from pipeline.exceptions import ConfigError, MissingExtra, StorageError, StorageUnavailable
from pipeline.storage.base import dress_url

LOG = logging.getLogger(__name__)

_DEFAULT_DBAPI = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
#: DBAPI module -> (package to install, pipeline extra that installs it)
_EXTRAS = {
    "psycopg": ("psycopg", "postgresql"),
    "psycopg2": ("psycopg2", "postgresql"),
    "pymysql": ("PyMySQL", "mysql"),
    "mysqldb": ("mysqlclient", "mysql"),
}
#: How long a SQLite writer waits for another's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30000
#: Execution option asking SQLite to take the write lock at BEGIN.
WRITE_OPTION = "pipeline_write"


def normalise_url(url: str) -> sa.URL:
    """The SQLAlchemy URL for a pipeline storage URL (see the module docstring)."""
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError as err:
        raise ConfigError(f"invalid storage URL {dress_url(url)!r}: {err}") from None
    backend, _, dbapi = parsed.drivername.partition("+")
    if not dbapi and backend in _DEFAULT_DBAPI:
        parsed = parsed.set(drivername=f"{backend}+{_DEFAULT_DBAPI[backend]}")
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def create_engine(url: str) -> sa.Engine:
    """A pooled engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend != "sqlite":
        # A server restart must not fail the next batch with a dead pooled socket.
        kwargs["pool_pre_ping"] = True
    if backend == "postgresql" and "options" not in parsed.query:
        # Event queries are short index walks; a parallel plan's worker
        # start-up costs more than the scan it splits (p50 72 ms -> 19 ms for
        # a broad trait filter over 1M events). Each query is planned for its
        # own values: a generic plan (psycopg prepares a statement run five
        # times) cannot estimate a jsonb containment, and walked all 1M
        # events (1.5 s) for a filter its custom plan answers in 2 ms from
        # the GIN index. An explicit ?options= wins.
        kwargs["connect_args"] = {
            "options": "-c max_parallel_workers_per_gather=0 -c plan_cache_mode=force_custom_plan"
        }
    if backend in ("mysql", "mariadb"):
        # InnoDB's default REPEATABLE READ hides rows a concurrent writer
        # committed after our first read, so an "insert, skip if present,
        # then select" would not find the event type another writer created.
        kwargs["isolation_level"] = "READ COMMITTED"
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ImportError as err:
        package, extra = _EXTRAS.get(parsed.get_driver_name(), (str(err.name), backend))
        raise MissingExtra(package, extra) from err
    except exc.NoSuchModuleError as err:
        raise ConfigError(f"storage URL {dress_url(url)!r}: {err}") from None
    if backend == "sqlite":
        _tune_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
    if backend in ("mysql", "mariadb"):
        sa_event.listen(engine, "handle_error", _packet_too_large_hangs_up)
    return engine


def writing(engine: sa.Engine) -> sa.Connection:
    """A connection of ``engine`` for a write transaction (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.connect().execution_options(**{WRITE_OPTION: True})


def _packet_too_large_hangs_up(context: sa.engine.ExceptionContext) -> None:
    """Tell SQLAlchemy that a statement over max_allowed_packet lost the connection.

    The server closes it after error 1153; treated as a disconnect, the
    connection is dropped at once instead of failing again on ROLLBACK with
    2006 "server has gone away", which would hide the 1153. The rest of the
    pool is fine.
    """
    if is_packet_too_large(context.original_exception):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


def _tune_sqlite(engine: sa.Engine, in_memory: bool) -> None:
    """Pragmas on every connection; explicit BEGIN so SAVEPOINTs work.

    The stdlib sqlite3 module opens transactions itself and breaks
    SAVEPOINT; with ``isolation_level=None`` SQLAlchemy's begin event issues
    BEGIN instead, and writers use BEGIN IMMEDIATE so two writers queue on
    the busy timeout rather than failing on a lock upgrade.
    """

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


#: MySQL/MariaDB error numbers that go away by retrying: connection lost or
#: refused, too many connections, server shutting down, lock wait timeout,
#: deadlock. PyMySQL reports all of them, and many permanent errors, as
#: OperationalError, so the class alone does not tell.
_MYSQL_TRANSIENT = frozenset(
    {
        1040,
        1043,
        1053,
        1158,
        1159,
        1160,
        1161,
        1203,
        1205,
        1213,
        1927,
        2002,
        2003,
        2006,
        2013,
        2014,
        2055,
        4031,
    }
)
#: MySQL/MariaDB errors caused by one row's values (CHECK constraint failed,
#: bad string, out of range, too long, bad datetime) besides Integrity/DataError.
_MYSQL_ROW_ERRORS = frozenset({1264, 1292, 1366, 1406, 3819, 4025})


#: MySQL/MariaDB: "Got a packet bigger than 'max_allowed_packet' bytes". The
#: statement can never succeed, and the server closes the connection.
MYSQL_PACKET_TOO_LARGE = 1153


def _mysql_errno(err: exc.DBAPIError) -> int | None:
    args = getattr(err.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_packet_too_large(err: BaseException) -> bool:
    """True for MySQL/MariaDB error 1153 (a DBAPI error, or SQLAlchemy's wrapping one)."""
    orig = err.orig if isinstance(err, exc.DBAPIError) else err
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == MYSQL_PACKET_TOO_LARGE


def is_transient(err: exc.DBAPIError) -> bool:
    """True when retrying later may succeed (the database is unavailable)."""
    if is_packet_too_large(err):  # the server hung up, but because of the statement
        return False
    if err.connection_invalidated or isinstance(err, exc.InterfaceError):
        return True
    errno = _mysql_errno(err)
    if errno is not None:
        return errno in _MYSQL_TRANSIENT
    if isinstance(err, exc.OperationalError):
        # SQLite reports a missing schema or bad SQL as OperationalError too.
        message = str(err.orig)
        return not ("no such" in message or "syntax error" in message)
    return False


def is_row_error(err: exc.DBAPIError) -> bool:
    """True when the values of some row were rejected (retry without that row).

    A statement too large for the server counts: one row of it may be.
    """
    if isinstance(err, (exc.IntegrityError, exc.DataError)):
        return True
    errno = _mysql_errno(err)
    return errno in _MYSQL_ROW_ERRORS or errno == MYSQL_PACKET_TOO_LARGE


@contextlib.contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn SQLAlchemy errors raised inside into pipeline's own.

    Connection trouble, lock timeouts and deadlocks become
    :class:`StorageUnavailable` (retry later); everything else
    :class:`StorageError`.
    """
    try:
        yield
    except exc.DBAPIError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
        if is_transient(err):
            raise StorageUnavailable(f"{action}: {reason}") from err
        raise StorageError(f"{action}: {reason}") from err
    except exc.TimeoutError as err:  # connection pool exhausted
        raise StorageUnavailable(f"{action}: {err}") from err
    except exc.SQLAlchemyError as err:
        raise StorageError(f"{action}: {err}") from err
