"""Alembic environment of the SQLAlchemy driver.

Run by :meth:`Connection.upgrade`, which passes an open connection in
``config.attributes['connection']`` (in a transaction, holding the schema
lock). Run from the ``alembic`` command line (``alembic -c
pipeline/storage/impl_sqlalchemy/alembic.ini ...``) it connects to
``sqlalchemy.url`` instead, normalised the way the driver does, and takes the
schema lock itself (:mod:`..schema_lock`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from pipeline.storage.impl_sqlalchemy.engine import create_engine
from pipeline.storage.impl_sqlalchemy.schema import metadata
from pipeline.storage.impl_sqlalchemy.schema_lock import schema_lock


def run_migrations(connection: Connection) -> None:
    """Configure alembic on ``connection`` and apply the pending migrations."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with schema_lock(engine) as connection:
            run_migrations(connection)
    finally:
        engine.dispose()
