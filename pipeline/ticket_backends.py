"""Backends of the ticketing API (:mod:`pipeline.ticketing`): faces over storage drivers.

:class:`BackendBase` opens any storage URL whose driver declares
``Capability.TICKETS`` and forwards logbook's backend methods to it;
:class:`SQLAlchemyBackend` adds logbook's ``table_prefix``, ``metadata``
and ``autocreate_tables`` options; :class:`MongoDBBackend` accepts only
``mongodb://`` URLs. There is no second storage stack: every write goes
through the driver's race-free ``record_tickets``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from pipeline.convert.tickets import ticket_record
from pipeline.exceptions import ConfigError, StorageError
from pipeline.models import Occurrence, Ticket, TicketRecord, to_utc
from pipeline.storage import Capability, Connection, get_connection, load_driver, url_scheme

if TYPE_CHECKING:
    from pipeline.storage.impl_sqlalchemy import Connection as SQLConnection

#: logbook's default prefix, used when only ``metadata`` is given.
LOGBOOK_PREFIX = "logbook_"


def ticket_record_of(
    record: Any, data: dict[str, Any], hash_value: str | bytes, app_id: str
) -> TicketRecord:
    """The storage input for one emitted record: ``data`` grouped under ``hash_value``."""
    if isinstance(hash_value, bytes):  # what logbook's handler passes
        hash_value = hash_value.decode("ascii")
    try:
        built = ticket_record(data, app_id=app_id, salt="", grouping="location")
    except ValueError as err:
        raise StorageError(f"record cannot be stored: {err}") from err
    when = getattr(record, "time", None)
    if isinstance(record, logging.LogRecord):
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
    if isinstance(when, dt.datetime):  # exact, unlike the ISO text in data
        built = dataclasses.replace(built, time=to_utc(when))
    return dataclasses.replace(built, record_hash=hash_value, app_id=app_id)


class BackendBase:
    """A ticket store reached through a storage driver, with logbook's methods.

    Options: ``uri`` (a storage URL) and ``autocreate_tables`` (default
    True: create or migrate the schema on start).
    """

    connection: Connection

    def __init__(self, **options: Any) -> None:
        self.options = options
        try:
            self.setup_backend()
        except BaseException:
            # Connected, then failed creating the schema: leave nothing open.
            connection = getattr(self, "connection", None)
            if connection is not None:
                connection.close()
            raise

    def setup_backend(self) -> None:
        """Connect to ``options['uri']`` and create the schema if asked to."""
        uri = self.options.pop("uri", None)
        if not isinstance(uri, str) or not uri:
            raise ConfigError(f"{type(self).__name__} needs a storage URL, got {uri!r}")
        self.connection = get_connection(
            uri, require=[Capability.TICKETS], **self.driver_options(uri)
        )
        if self.options.get("autocreate_tables", True):
            self.create_tables()

    def driver_options(self, uri: str) -> dict[str, Any]:
        """The keyword options of ``uri``'s storage driver that this backend's options make."""
        return {}

    def create_tables(self) -> None:
        """Create or migrate the storage's schema (``autocreate_tables``)."""
        self.connection.upgrade()

    def record_ticket(
        self, record: Any, data: dict[str, Any], hash: str | bytes, app_id: str
    ) -> None:
        """Record ``record`` as an occurrence of the ticket ``hash`` of ``app_id``."""
        result = self.connection.record_tickets([ticket_record_of(record, data, hash, app_id)])
        if result.failed:
            raise StorageError(f"record not stored: {result.failed[0]}")

    def count_tickets(self) -> int:
        """The number of tickets."""
        return self.connection.count_tickets()

    def get_tickets(
        self, order_by: str = "-last_occurrence_time", limit: int | None = 50, offset: int = 0
    ) -> list[Ticket]:
        """Tickets ordered by a column (``-`` for descending), paged."""
        return self.connection.get_tickets(order_by, limit, offset)

    def solve_ticket(self, ticket_id: int) -> None:
        """Mark a ticket solved (it reopens as regressed when it fires again)."""
        self.connection.solve_ticket(ticket_id)

    def delete_ticket(self, ticket_id: int) -> None:
        """Delete a ticket and its occurrences."""
        self.connection.delete_ticket(ticket_id)

    def get_ticket(self, ticket_id: int) -> Ticket:
        """One ticket; :class:`~pipeline.exceptions.TicketNotFound` if unknown."""
        return self.connection.get_ticket(ticket_id)

    def get_occurrences(
        self, ticket: int, order_by: str = "-time", limit: int | None = 50, offset: int = 0
    ) -> list[Occurrence]:
        """Occurrences of the ticket with id ``ticket``, ordered and paged."""
        return self.connection.get_occurrences(ticket, order_by, limit, offset)

    def close(self) -> None:
        """Release the driver's connections (the backend is unusable afterwards).

        A backend also releases them when it is garbage collected, not before:
        it outlives the handler it was made for.
        """
        self.connection.close()


class SQLAlchemyBackend(BackendBase):
    """The SQL backend: SQLite, PostgreSQL or MySQL/MariaDB through the SQLAlchemy driver.

    ``uri`` may also be an SQLAlchemy engine. Without ``table_prefix`` and
    ``metadata`` the tickets live in the driver's own tables (where the
    consumer and the API see them). With either, they live in
    ``<table_prefix>tickets`` and ``<table_prefix>occurrences`` (prefix
    default ``logbook_``), defined on ``metadata`` (a new MetaData by
    default) and created when ``autocreate_tables`` is true: the driver's
    ``table_prefix`` and ``metadata`` options. Existing logbook tables have
    another layout and are not migrated: use a new prefix.
    """

    table_prefix: str | None = None
    metadata: Any = None

    def setup_backend(self) -> None:
        """Connect, then create the ticket tables (see the class docstring)."""
        uri: Any = self.options.get("uri")
        if hasattr(uri, "url") and hasattr(uri, "connect"):  # an SQLAlchemy engine
            self.options["uri"] = uri.url.render_as_string(hide_password=False)
        super().setup_backend()
        if isinstance(self.connection, _sql()) and self.connection.table_prefix is not None:
            self.table_prefix = self.connection.table_prefix
            self.metadata = self.connection.ticket_tables.ticket.metadata

    def driver_options(self, uri: str) -> dict[str, Any]:
        """The driver's ``table_prefix`` and ``metadata``, when either is given."""
        prefix, metadata = self.options.get("table_prefix"), self.options.get("metadata")
        if prefix is None and metadata is None:
            return {}
        if not issubclass(load_driver(url_scheme(uri)), _sql()):
            raise ConfigError("table_prefix and metadata need an SQL storage URL")
        return {"table_prefix": LOGBOOK_PREFIX if prefix is None else prefix, "metadata": metadata}

    def create_tables(self) -> None:
        """Create the ticket tables in use (the driver's own come with its schema)."""
        if isinstance(self.connection, _sql()):
            self.connection.create_ticket_tables()
        else:
            super().create_tables()


def _sql() -> type[SQLConnection]:
    """The SQLAlchemy driver's class, imported only once a backend needs it."""
    from pipeline.storage.impl_sqlalchemy import Connection

    return Connection


class MongoDBBackend(BackendBase):
    """The MongoDB backend: ``uri`` is a ``mongodb://`` URL of the MongoDB driver."""

    def setup_backend(self) -> None:
        """Check the URL is a MongoDB one, then connect."""
        uri = self.options.get("uri")
        if not isinstance(uri, str) or not uri.startswith(("mongodb://", "mongodb+srv://")):
            raise ConfigError(f"MongoDBBackend needs a mongodb:// URL, got {uri!r}")
        super().setup_backend()
