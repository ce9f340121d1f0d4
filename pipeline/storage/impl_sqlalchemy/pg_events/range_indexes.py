"""Indexes for range filters on chosen traits (``[database] postgresql_range_traits``).

The GIN index on ``traits`` answers equality (containment) on any trait,
but not ``lt``/``le``/``gt``/``ge``: such a filter reads the trait from
each candidate event, which walks every event of the time range when few
match. For each configured trait (``name:type``) ``upgrade()`` (``pipeline
dbsync``) creates a b-tree index on exactly the expression the reads
compare (:func:`.reads.trait_value`). ``ANALYZE`` keeps statistics of
that expression, so the planner knows how many events a range matches and
takes the index only when it pays (a broad range under a ``limit`` is
better answered walking the time index). Not a partial index (only the
events having the trait): the planner keeps no statistics for those, and
then guesses a third of the events for any range.

Each index costs every write: PostgreSQL computed ~1.2 µs more CPU per
event for each (``benchmarks/README.md``). The default lists the
datetimes that billing and audit queries bound an instance's life with.

The index is created on the partitioned ``event``: PostgreSQL builds it on
every partition, holding writers of each back while it does, and gives
each partition attached later its own. Processes creating indexes or
partitions take turns (:func:`.partitions.take_turns`). Indexes of traits
no longer listed are left in place (dropping one is the operator's call).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipeline import opts
from pipeline.exceptions import ConfigError
from pipeline.models import Trait
from pipeline.storage.impl_sqlalchemy.pg_events.documents import TYPE_KEYS
from pipeline.storage.impl_sqlalchemy.pg_events.partitions import take_turns
from pipeline.storage.impl_sqlalchemy.pg_events.reads import trait_value

LOG = logging.getLogger(__name__)
#: The option's default, for a driver made without a configuration.
DEFAULT: tuple[str, ...] = tuple(
    next(opt for opt in opts.DATABASE_OPTS if opt.name == "postgresql_range_traits").default
)


def parse(entries: Iterable[str]) -> list[tuple[str, int]]:
    """``name:type`` entries as (name, dtype); a clear error for a malformed one."""
    found = []
    for entry in entries:
        name, _, type_name = entry.strip().rpartition(":")
        dtype = Trait.get_type_by_name(type_name.strip())
        if not name or dtype not in TYPE_KEYS:
            raise ConfigError(
                f"[database] postgresql_range_traits: {entry!r} is not name:type "
                "with type text, int, float or datetime"
            )
        found.append((name, dtype))
    return found


def index_name(name: str, dtype: int) -> str:
    """The index of trait ``name`` of ``dtype``: a digest, as names are free text."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"ix_event_range_{TYPE_KEYS[dtype]}_{digest}"


def create_statement(name: str, dtype: int) -> str:
    """``CREATE INDEX IF NOT EXISTS`` of trait ``name`` of ``dtype`` (the name inlined).

    For ``exec_driver_sql``: a ``%`` in the name is doubled, as the DBAPI's
    parameter style wants.
    """
    value = trait_value(dtype, name).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return f'CREATE INDEX IF NOT EXISTS "{index_name(name, dtype)}" ON event (({value}))'


def ensure(engine: sa.Engine, traits: list[tuple[str, int]]) -> None:
    """Create the missing indexes of ``traits`` (each in a transaction of its own)."""
    for name, dtype in traits:
        with engine.begin() as conn:
            # Processes upgrading at once: IF NOT EXISTS alone races in the catalogue.
            take_turns(conn)
            if conn.execute(
                sa.text("SELECT to_regclass(:n)"), {"n": index_name(name, dtype)}
            ).scalar():
                continue
            LOG.info("creating the range index of trait %s (%s)", name, TYPE_KEYS[dtype])
            conn.exec_driver_sql(create_statement(name, dtype))
