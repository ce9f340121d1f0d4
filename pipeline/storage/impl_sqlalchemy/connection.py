"""The SQLAlchemy driver's :class:`Connection`: connecting, options, schema (see the package)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Self, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from oslo_config import cfg

from pipeline.exceptions import ConfigError
from pipeline.storage import base
from pipeline.storage.capabilities import Capability
from pipeline.storage.impl_sqlalchemy import engine as engines
from pipeline.storage.impl_sqlalchemy import schema
from pipeline.storage.impl_sqlalchemy.events import SQLEvents
from pipeline.storage.impl_sqlalchemy.schema_lock import schema_lock
from pipeline.storage.impl_sqlalchemy.ticket_schema import TICKET_TABLES, create_tables
from pipeline.storage.impl_sqlalchemy.tickets import SQLTickets

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
SUPPORTED_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
#: Where alembic keeps the revision a database is at (its default name).
VERSION_TABLE = "alembic_version"
#: Subclasses of :class:`Connection` for dialects whose events have a layout
#: of their own, by dialect name; the package registers them (this module
#: imports none of them: they import it).
DIALECT_CONNECTIONS: dict[str, type[Connection]] = {}


def alembic_config(conn: sa.Connection | None = None) -> AlembicConfig:
    """Alembic configuration for the packaged migrations, bound to ``conn``."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The newest revisions of the packaged migrations (read once: they do not change)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


class Connection(SQLEvents, SQLTickets, base.Connection):
    """SQL storage on SQLite, PostgreSQL or MySQL/MariaDB (see the package docstring).

    ``table_prefix`` keeps the tickets in ``<table_prefix>tickets`` and
    ``<table_prefix>occurrences``, defined on ``metadata`` (a new MetaData
    when None), instead of the driver's own tables; alembic does not manage
    those: :meth:`create_ticket_tables` creates them.
    """

    capabilities = frozenset(Capability)

    def __new__(cls, url: str, *args: Any, **kwargs: Any) -> Self:
        # Dialect hook: PostgreSQL's events have a layout of their own (.pg_events).
        if cls is Connection:
            special = DIALECT_CONNECTIONS.get(engines.normalise_url(url).get_backend_name())
            if special is not None:
                return cast(Self, super().__new__(special))
        return super().__new__(cls)

    def __init__(
        self,
        url: str,
        conf: cfg.ConfigOpts | None = None,
        *,
        table_prefix: str | None = None,
        metadata: sa.MetaData | None = None,
    ) -> None:
        super().__init__(url, conf)
        self._open_tickets(table_prefix, metadata)
        self.engine = engines.create_engine(url)
        if self.engine.dialect.name not in SUPPORTED_DIALECTS:
            dialect = self.engine.dialect.name
            self.engine.dispose()
            raise ConfigError(f"the SQLAlchemy driver does not support {dialect!r} databases")
        # Connect now so an unreachable server fails at start-up (and is retried).
        with engines.translated_errors(f"connect to {self.dress_url(url)}"):
            self.engine.connect().close()

    def create_ticket_tables(self) -> None:
        """Create the ticket tables where missing (idempotent, safe when run concurrently).

        Under a ``table_prefix``: the prefixed pair, an occurrence table made
        before occurrence keys existed given its key column. Without one, the
        driver's own tables come with the schema: this is :meth:`upgrade`.
        """
        if self.table_prefix is None:
            self.upgrade()
            return
        # Under the schema lock: other processes may be creating them right now.
        with (
            engines.translated_errors("create ticket tables"),
            schema_lock(self.engine) as conn,
        ):
            create_tables(conn, self.ticket_tables)

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest migration (idempotent).

        Processes that upgrade one database at the same time take turns
        (:mod:`.schema_lock`); alembic reads the schema version again once
        the lock is held, so who waited finds the work done. A schema already
        at the newest version is left alone without taking the lock.
        """
        with engines.translated_errors("upgrade schema"):
            if not self._schema_is_current():
                with schema_lock(self.engine) as conn:
                    command.upgrade(alembic_config(conn), "head")
        self._after_upgrade()

    def _after_upgrade(self) -> None:
        """Work of ``upgrade`` outside alembic's transaction (PostgreSQL: partitions)."""

    def _schema_is_current(self) -> bool:
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
        return frozenset(current) == head_revisions()

    def schema_state(self) -> base.SchemaState:
        """The database's alembic revision and the newest packaged migration."""
        expected = ",".join(sorted(head_revisions()))
        # Read directly: alembic's MigrationContext logs two INFO lines each
        # time, and health probes ask often.
        with engines.translated_errors("read the schema version"), self.engine.connect() as conn:
            current = None
            if sa.inspect(conn).has_table(VERSION_TABLE):
                current = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        return base.SchemaState(current, expected)

    def clear(self) -> None:
        """Delete every row of the event tables and of the ticket tables in use.

        The schema stays.
        """
        own_tickets = {table.name for table in TICKET_TABLES}
        event_tables = [t for t in schema.metadata.sorted_tables if t.name not in own_tickets]
        tables = [*self.ticket_tables, *event_tables]
        with engines.translated_errors("clear"), engines.writing(self.engine) as conn, conn.begin():
            for table in reversed(tables):
                conn.execute(sa.delete(table))

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
