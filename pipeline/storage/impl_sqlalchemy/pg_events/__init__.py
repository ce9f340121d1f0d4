"""PostgreSQL's own event layout: one row per event, partitioned by day.

The other SQL databases keep one row per trait in a table per type
(:mod:`..schema`); on PostgreSQL that cost ~19 rows and ~38 index entries
per event, and expiry deleted them row by row. Here (migration 0005):

* ``event`` holds one row per event, its traits in one typed ``jsonb``
  document (:mod:`.documents`) under a GIN index, and ``event_message`` one
  row per message id (:mod:`.messages`): three b-tree entries per event
  besides the GIN's, written with two binary COPYs (:mod:`.writes`);
* ``event`` is partitioned by UTC day (:mod:`.partitions`), so expiry
  drops whole days and deletes rows only in the day the cutoff falls into
  (:mod:`.expiry`), then forgets the expired message ids;
* event types and trait names and types are listed from a small catalogue
  kept on write (:mod:`.catalogue`), not from the events;
* queries are the same query model, translated to jsonb with the same
  typed semantics (:mod:`.reads`), proven by the same scenario and
  differential suites as every driver; range filters on the traits listed
  in ``[database] postgresql_range_traits`` have an index each
  (:mod:`.range_indexes`);
* a database still in the previous layout is served by the SQL driver's
  own event code until ``pipeline dbsync`` moves it (:mod:`.layout`,
  :mod:`.migration`, :mod:`.legacy`).

:class:`PostgreSQLConnection` is what the SQLAlchemy driver becomes for a
``postgresql://`` URL (its ``Connection`` builds one).
"""

from __future__ import annotations

from pipeline.storage.impl_sqlalchemy.connection import Connection
from pipeline.storage.impl_sqlalchemy.pg_events.events import PostgreSQLEvents


class PostgreSQLConnection(PostgreSQLEvents, Connection):
    """The SQLAlchemy driver on PostgreSQL: these events, the SQL driver's tickets and the rest."""


__all__ = ["PostgreSQLConnection"]
