"""SQL storage with SQLAlchemy Core: SQLite, PostgreSQL, MySQL/MariaDB.

URL forms (the scheme picks this driver; a ``+driver`` suffix is kept):

* ``sqlite:///relative/path.sqlite`` (relative to the current directory),
  ``sqlite:////absolute/path.sqlite``, ``sqlite://`` (in memory, one process);
* ``postgresql://user:password@host:5432/dbname`` (psycopg 3; extra
  ``postgresql``);
* ``mysql://user:password@host:3306/dbname`` or ``mariadb://...`` (PyMySQL
  with ``charset=utf8mb4``; extra ``mysql``). MariaDB >= 10.5 and SQLite >=
  3.35 are needed for ``RETURNING``; MySQL without it works, slower.

Capabilities: all (events and tickets, see :mod:`.tickets`, each with expiry).

Options: query parameters of the URL are passed to the client library
(e.g. ``?connect_timeout=5``). SQLite files run in WAL mode with foreign
keys on and a 30 s busy timeout. Keyword options (``get_connection(url,
table_prefix=...)``): ``table_prefix`` keeps the tickets in
``<table_prefix>tickets`` and ``<table_prefix>occurrences`` instead of the
driver's own tables, defined on ``metadata`` (an ``sqlalchemy.MetaData``,
a new one by default); alembic does not manage those,
``create_ticket_tables()`` creates them. The ticketing API's
``SQLAlchemyBackend`` offers both under logbook's names.

Composition: ``Connection(SQLEvents, SQLTickets, base.Connection)``, the
event primitives in :mod:`.events` (reads: :mod:`.event_reads`), the ticket
primitives in :mod:`.tickets`, the rest in :mod:`.connection`. On
PostgreSQL the driver is its subclass
:class:`~.pg_events.PostgreSQLConnection`, whose events
(:class:`~.pg_events.events.PostgreSQLEvents`, an extension of
``SQLEvents``) keep one row per event in day partitions (:mod:`.pg_events`).

Schema: :mod:`.schema`, created and migrated by alembic (``upgrade()``,
``pipeline dbsync``); no ``alembic.ini`` is needed at run time. A record
batch is one transaction of a handful of statements (:mod:`.writer`); when
the database rejects one event of it, the batch is retried event by event in
SAVEPOINTs so only that event fails.
"""

from pipeline.storage.impl_sqlalchemy.connection import DIALECT_CONNECTIONS, Connection
from pipeline.storage.impl_sqlalchemy.pg_events import PostgreSQLConnection

DIALECT_CONNECTIONS["postgresql"] = PostgreSQLConnection

__all__ = ["Connection"]
