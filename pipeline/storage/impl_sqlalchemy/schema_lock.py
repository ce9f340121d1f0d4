"""One schema change at a time per database, across processes and hosts.

Eight web workers or consumers starting on a new database, or ``pipeline
dbsync`` run from two hosts, all find the schema missing and all create it;
without a lock all but one fail (PostgreSQL: ``duplicate key value violates
unique constraint "pg_type_typname_nsp_index"``, MariaDB: ``Table ... already
exists``). :func:`schema_lock` makes them take turns:

* PostgreSQL: a session advisory lock on :data:`ADVISORY_KEY`, held by a
  connection of its own (advisory locks are scoped to the database), so it
  spans every transaction of the change and is released only after commit;
* MySQL/MariaDB: ``GET_LOCK`` on a name made of the database's name (these
  locks are server-wide), also on a connection of its own;
* SQLite: the change's own transaction begins ``IMMEDIATE``: the database's
  write lock is the schema lock, and other processes wait on the busy timeout.

Whoever waited must look at the schema again inside the lock: the process
before it may have done the work already (alembic does so by reading
``alembic_version`` within the transaction it is given).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import sqlalchemy as sa

from pipeline.exceptions import StorageUnavailable
from pipeline.storage.impl_sqlalchemy.engine import WRITE_OPTION

LOG = logging.getLogger(__name__)

#: The PostgreSQL advisory lock key of schema changes: b"pipeline" as a bigint.
ADVISORY_KEY = int.from_bytes(b"pipeline", "big")
#: How long a process waits for another's schema change before giving up.
LOCK_TIMEOUT_S = 600
#: MySQL lock names are at most 64 characters.
_MYSQL_NAME_LIMIT = 64


def _mysql_lock_name(engine: sa.Engine) -> str:
    return f"pipeline.schema.{engine.url.database or ''}"[:_MYSQL_NAME_LIMIT]


def _acquire(conn: sa.Connection) -> None:
    """Take the server's lock on ``conn``; StorageUnavailable after :data:`LOCK_TIMEOUT_S`."""
    with conn.begin():
        if conn.dialect.name == "postgresql":
            # lock_timeout bounds the wait; is_local: for this transaction only.
            timeout = sa.text("SELECT set_config('lock_timeout', :timeout, true)")
            conn.execute(timeout, {"timeout": f"{LOCK_TIMEOUT_S}s"})
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            return
        name = _mysql_lock_name(conn.engine)
        query = sa.text("SELECT GET_LOCK(:name, :timeout)")
        if conn.execute(query, {"name": name, "timeout": LOCK_TIMEOUT_S}).scalar() != 1:
            raise StorageUnavailable(
                f"another process held the schema lock {name!r} for {LOCK_TIMEOUT_S} s"
            )


def _release(conn: sa.Connection) -> None:
    """Release the server's lock taken by :func:`_acquire` on ``conn``."""
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
        else:
            name = _mysql_lock_name(conn.engine)
            conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})


@contextlib.contextmanager
def _server_lock(engine: sa.Engine) -> Iterator[None]:
    """Hold PostgreSQL's or MySQL's schema lock on a dedicated connection."""
    with engine.connect() as conn:
        _acquire(conn)
        LOG.debug("schema lock of %s taken", engine.url.database)
        try:
            yield
        finally:
            try:
                _release(conn)
            except sa.exc.SQLAlchemyError:
                # The lock lives as long as the session: end the session rather
                # than return a connection still holding it to the pool.
                conn.invalidate()
                LOG.warning("schema lock release failed; connection discarded", exc_info=True)


@contextlib.contextmanager
def schema_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """Hold the schema lock of ``engine``'s database; yield a connection in a transaction.

    Change the schema on the connection yielded. Its transaction commits when
    the block ends, before the lock is released, so whoever waited sees the
    finished change. Database errors propagate as SQLAlchemy errors (wrap the
    call in :func:`~.engine.translated_errors`).
    """
    locking = engine.dialect.name in ("postgresql", "mysql", "mariadb")
    with contextlib.ExitStack() as stack:
        if locking:
            stack.enter_context(_server_lock(engine))
        # On SQLite WRITE_OPTION makes the transaction BEGIN IMMEDIATE: that is the lock.
        conn = stack.enter_context(engine.connect().execution_options(**{WRITE_OPTION: True}))
        stack.enter_context(conn.begin())
        yield conn
