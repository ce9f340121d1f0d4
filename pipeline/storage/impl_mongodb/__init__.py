"""MongoDB storage driver (pymongo 4.x), for events and tickets.

URL: ``mongodb://[user:password@]host[:port][,host2...]/[database][?options]``
or ``mongodb+srv://...``; the database is the URL's path (``pipeline`` when
absent) and the query string takes any pymongo URI option (``replicaSet``,
``authSource``, ``tls``, ``serverSelectionTimeoutMS`` — 5000 unless given —
...). Install with ``pip install 'pipeline[mongodb]'``.

Capabilities: EVENTS, EVENT_EXPIRY, TICKETS, TICKET_EXPIRY.

Options: ``[database] mongodb_ttl_index`` (default off) makes ``pipeline
dbsync`` also create a TTL index on the event time with
``expireAfterSeconds = [database] event_time_to_live``, so the server expires
events by itself; turning it off again drops that index. ``pipeline expire``
works either way.

Only standard commands are used (bulk writes, ``$elemMatch``, aggregation,
``collMod``, transactions where the server offers them), so the driver runs
on MongoDB 5.0+ and compatible servers. Deploy a replica set (even of one
member): there each ticket batch is one transaction; a standalone server
has none (see :mod:`.ticket_upserts` for what that costs).
The document layouts and why they were chosen are described in
:mod:`.events` and :mod:`.tickets`, the ticket write algorithm in
:mod:`.ticket_upserts`; pymongo errors are translated as :mod:`.errors` says.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oslo_config import cfg

from pipeline.exceptions import ConfigError, MissingExtra, StorageError
from pipeline.models import Event, Occurrence, Ticket, Trait
from pipeline.storage.base import Capability, RecordResult, dress_url
from pipeline.storage.base import Connection as BaseConnection
from pipeline.storage.query import EventQuery
from pipeline.storage.tickets import TicketGroup, TicketQuery

if TYPE_CHECKING:
    import pymongo

    from pipeline.storage.impl_mongodb.events import EventCollection
    from pipeline.storage.impl_mongodb.tickets import TicketCollections

LOG = logging.getLogger(__name__)
DEFAULT_DATABASE = "pipeline"
DEFAULT_SERVER_SELECTION_MS = 5000
#: Server error codes of another process creating the same collections,
#: indexes and counter at the same time: DuplicateKey (the counter upsert),
#: IndexNotFound (the TTL index it dropped), NamespaceExists, WriteConflict,
#: IndexBuildAlreadyInProgress.
CONCURRENT_CREATOR_CODES = frozenset({11000, 27, 48, 112, 276})
UPGRADE_ATTEMPTS = 5


def _has_option(url: str, name: str) -> bool:
    query = urllib.parse.urlsplit(url).query
    return any(key.lower() == name.lower() for key in urllib.parse.parse_qs(query))


class Connection(BaseConnection):
    """Events and tickets in a MongoDB database (see the module docstring)."""

    capabilities = frozenset(
        {Capability.EVENTS, Capability.EVENT_EXPIRY, Capability.TICKETS, Capability.TICKET_EXPIRY}
    )

    def __init__(self, url: str, conf: cfg.ConfigOpts | None = None) -> None:
        super().__init__(url, conf)
        try:
            import pymongo
        except ImportError:
            raise MissingExtra("pymongo", "mongodb") from None
        # Imported here, once pymongo is known to be present, so that loading
        # the entry point never fails with a bare ImportError.
        from pipeline.storage.impl_mongodb import errors, events, tickets

        self._client = self._make_client(pymongo, url)
        # The connection owns its client: closed by close() or, at the
        # latest, when the connection is garbage collected.
        self._close_client = weakref.finalize(self, self._client.close)
        self._db = self._client.get_default_database(DEFAULT_DATABASE)
        try:
            with errors.translated(f"connecting to {dress_url(url)}"):
                # MongoClient connects lazily; ask now so that start-up
                # retries (get_connection) see an unreachable server.
                hello = self._client.admin.command("hello")
        except Exception:
            self._close_client()
            raise
        # Replica sets and sharded clusters have multi-document transactions.
        transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        self._events: EventCollection = events.EventCollection(self._db[events.COLLECTION])
        self._tickets: TicketCollections = tickets.TicketCollections(self._db, transactions)

    @staticmethod
    def _make_client(pymongo: Any, url: str) -> pymongo.MongoClient[Any]:
        options: dict[str, Any] = {"tz_aware": True, "connect": False}
        if not _has_option(url, "serverSelectionTimeoutMS"):
            options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_MS
        try:
            return pymongo.MongoClient(url, **options)
        except (pymongo.errors.ConfigurationError, ValueError) as err:
            raise ConfigError(f"invalid MongoDB URL {dress_url(url)!r}: {err}") from err

    # -- events ------------------------------------------------------------

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        return self._events.write(events)

    def _event_generated(self, message_id: str) -> dt.datetime | None:
        return self._events.generated(message_id)

    def _query_events(self, query: EventQuery) -> list[Event]:
        return self._events.query(query)

    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        return self._events.delete_before(cutoff, max_count)

    def get_event_types(self) -> list[str]:
        return self._events.event_types()

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        return self._events.trait_types(event_type)

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        return self._events.traits(event_type, trait_type)

    # -- tickets -------------------------------------------------------------

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> dict[tuple[str, str], int]:
        return self._tickets.write(groups)

    def _query_tickets(self, query: TicketQuery) -> list[Ticket]:
        return self._tickets.query(query)

    def _count_tickets(self, query: TicketQuery) -> int:
        return self._tickets.count(query)

    def _get_ticket(self, ticket_id: int) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def _query_occurrences(
        self, ticket_id: int, order: tuple[tuple[str, bool], ...], limit: int | None, offset: int
    ) -> list[Occurrence] | None:
        return self._tickets.occurrences(ticket_id, order, limit, offset)

    def _set_ticket_solved(self, ticket_id: int) -> bool:
        return self._tickets.solve(ticket_id)

    def _delete_ticket(self, ticket_id: int) -> bool:
        return self._tickets.delete(ticket_id)

    def _delete_occurrences_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        return self._tickets.delete_occurrences_before(cutoff, max_count)

    # -- whole store ---------------------------------------------------------

    def clear(self) -> None:
        """Delete every event and ticket; collections and indexes stay."""
        self._events.clear()
        self._tickets.clear()

    def upgrade(self) -> None:
        """Create the collections' indexes and the id counter (see ``mongodb_ttl_index``).

        Idempotent, and safe when several processes upgrade one new database
        at once: what a concurrent creator makes them fail with (the
        counter's upsert, an index built or dropped by the other) is done
        again, which then finds the work done.
        """
        for attempt in range(1, UPGRADE_ATTEMPTS + 1):
            try:
                self._events.create_indexes(self._ttl_seconds())
                self._tickets.create_indexes()
                break
            except StorageError as err:
                code = getattr(err.__cause__, "code", None)
                if code not in CONCURRENT_CREATOR_CODES or attempt == UPGRADE_ATTEMPTS:
                    raise
                LOG.info("creating indexes raced another process (%s); again", err)
        LOG.info("MongoDB database %s is up to date", self._db.name)

    def _ttl_seconds(self) -> int | None:
        if self.conf is None or not self.conf.database.mongodb_ttl_index:
            return None
        ttl = int(self.conf.database.event_time_to_live)
        if ttl <= 0:
            LOG.warning("mongodb_ttl_index is on but event_time_to_live is %d: no TTL index", ttl)
            return None
        return ttl

    def close(self) -> None:
        """Close the client's connections (harmless when repeated)."""
        self._close_client()
