"""The time partitions of ``event``: one per UTC day, added ahead, dropped whole.

A partition holds the events generated in ``[period, period + PERIOD)`` and
is named ``event_pYYYYMMDD`` after its period. PostgreSQL refuses a row
for which no partition exists, so writers make sure the days of a batch
have one before they write it (:meth:`Partitions.ensure`, which also adds
the :data:`AHEAD` days after today when a batch writes today's events, so
that midnight needs no DDL), and ``pipeline dbsync`` adds them too. There is no default partition: it would
make every later partition scan it.

Adding a partition creates the table first and attaches it, which locks
``event`` only in SHARE UPDATE EXCLUSIVE mode: writers and readers go on.
Dropping takes an exclusive lock for a moment (:meth:`Partitions.drop`,
all of a run's partitions at once: detaching each CONCURRENTLY blocked
nothing but took ~135 ms per partition, most of expiry's time). Both take
an advisory lock, so processes doing the same take turns, and look again
once they hold it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable

import sqlalchemy as sa

from pipeline.models import to_utc

LOG = logging.getLogger(__name__)

PERIOD = dt.timedelta(days=1)
#: Days after the newest one written that get their partition in advance.
AHEAD = 2
_NAME = re.compile(r"^event_p(\d{8})$")
#: Advisory lock of partition changes: b"pl-parts" as a bigint.
LOCK_KEY = int.from_bytes(b"pl-parts", "big")
#: How long adding or dropping a partition waits for locks before giving up.
LOCK_TIMEOUT = "30s"

_LIST = sa.text(
    "SELECT c.relname, i.inhdetachpending FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass('event')"
)


def period_of(generated: dt.datetime) -> dt.datetime:
    """The naive UTC start of the partition holding events generated at ``generated``."""
    naive = to_utc(generated).replace(tzinfo=None)
    return dt.datetime(naive.year, naive.month, naive.day)


def partition_name(period: dt.datetime) -> str:
    """The table name of the partition starting at ``period``."""
    return f"event_p{period:%Y%m%d}"


def _period_of_name(name: str) -> dt.datetime | None:
    match = _NAME.match(name)
    return dt.datetime.strptime(match.group(1), "%Y%m%d") if match else None


def attached(conn: sa.Connection) -> list[dt.datetime]:
    """Periods of the partitions of ``event``, oldest first.

    Finishes a detach that was interrupted (``DETACH ... CONCURRENTLY``
    leaves the partition pending when its session ends early), which
    needs ``conn`` to be in autocommit mode; otherwise that partition is
    just left out.
    """
    periods = []
    for name, pending in conn.execute(_LIST).all():
        period = _period_of_name(name)
        if period is None:
            continue
        if pending:
            if conn.get_isolation_level() == "AUTOCOMMIT":
                conn.exec_driver_sql(f'ALTER TABLE event DETACH PARTITION "{name}" FINALIZE')
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
            continue
        periods.append(period)
    return sorted(periods)


def _add(conn: sa.Connection, period: dt.datetime) -> None:
    """Create and attach the partition of ``period`` (the caller holds the lock)."""
    name = partition_name(period)
    bounds = f"FROM ('{period.isoformat(sep=' ')}') TO ('{(period + PERIOD).isoformat(sep=' ')}')"
    # LIKE copies columns, types and collations; attaching builds the
    # partitioned indexes on the new, empty table.
    conn.exec_driver_sql(
        f'CREATE TABLE IF NOT EXISTS "{name}" (LIKE event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'
    )
    conn.exec_driver_sql(f'ALTER TABLE event ATTACH PARTITION "{name}" FOR VALUES {bounds}')
    LOG.info("added event partition %s", name)


def take_turns(conn: sa.Connection) -> None:
    """In ``conn``'s transaction: wait for other processes changing partitions or
    indexes of ``event``, and give up waiting for table locks after :data:`LOCK_TIMEOUT`."""
    conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": LOCK_TIMEOUT})
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


class Partitions:
    """Which partitions exist, as this process last saw them; adds missing ones.

    ``engine`` is the driver's; partitions are added in transactions of
    their own, never inside a caller's.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._known: set[dt.datetime] = set()

    def forget(self) -> None:
        """Look the partitions up again next time (after a drop, or a failed write)."""
        self._known.clear()

    def ensure(self, generated: Iterable[dt.datetime], ahead: int = 0) -> None:
        """Make sure the periods of ``generated`` exist, and ``ahead`` days after
        today's when it is one of them (current traffic: midnight needs no DDL)."""
        wanted = {period_of(value) for value in generated}
        today = period_of(dt.datetime.now(dt.UTC))
        if ahead and today in wanted:
            wanted.update(today + PERIOD * step for step in range(1, ahead + 1))
        missing = wanted - self._known
        if not missing:
            return
        with self.engine.connect() as conn, conn.begin():
            self._known.update(attached(conn))
            missing -= self._known
            if not missing:
                return
            take_turns(conn)
            # Another process may have added some while we waited for the lock.
            missing -= set(attached(conn))
            for period in sorted(missing):
                _add(conn, period)
        self._known.update(missing)

    def drop(self, periods: Iterable[dt.datetime]) -> None:
        """Drop the partitions of ``periods`` that exist, in one short transaction.

        ``DROP TABLE`` locks ``event`` exclusively: the lock waits for the
        statements using the table to end and holds new ones back for the
        few milliseconds the drops take, once for all the partitions.
        """
        periods = set(periods)
        self._known -= periods
        with self.engine.connect() as conn, conn.begin():
            take_turns(conn)
            names = [partition_name(p) for p in sorted(periods & set(attached(conn)))]
            if names:
                conn.exec_driver_sql("DROP TABLE " + ", ".join(f'"{name}"' for name in names))
                LOG.info("dropped event partitions %s", ", ".join(names))
