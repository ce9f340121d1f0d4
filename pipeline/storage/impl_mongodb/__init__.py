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

import logging
import urllib.parse
import weakref
from typing import Any

from oslo_config import cfg

from pipeline.exceptions import ConfigError, MissingExtra, StorageError

try:  # before the modules below, which need it: say which extra installs it
    import pymongo
except ImportError as err:
    raise MissingExtra("pymongo", "mongodb") from err

from pipeline.storage import base
from pipeline.storage.base import dress_url
from pipeline.storage.capabilities import Capability
from pipeline.storage.impl_mongodb import errors
from pipeline.storage.impl_mongodb.events import MongoEvents
from pipeline.storage.impl_mongodb.tickets import MongoTickets

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


class Connection(MongoEvents, MongoTickets, base.Connection):
    """Events and tickets in a MongoDB database (see the module docstring)."""

    capabilities = frozenset(
        {Capability.EVENTS, Capability.EVENT_EXPIRY, Capability.TICKETS, Capability.TICKET_EXPIRY}
    )

    def __init__(self, url: str, conf: cfg.ConfigOpts | None = None) -> None:
        super().__init__(url, conf)
        self._client = self._make_client(url)
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
        self._open_events(self._db)
        self._open_tickets(self._db, transactions)

    @staticmethod
    def _make_client(url: str) -> pymongo.MongoClient[Any]:
        options: dict[str, Any] = {"tz_aware": True, "connect": False}
        if not _has_option(url, "serverSelectionTimeoutMS"):
            options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_MS
        try:
            return pymongo.MongoClient(url, **options)
        except (pymongo.errors.ConfigurationError, ValueError) as err:
            raise ConfigError(f"invalid MongoDB URL {dress_url(url)!r}: {err}") from err

    # -- whole store ---------------------------------------------------------

    def clear(self) -> None:
        """Delete every event and ticket; collections and indexes stay."""
        self._clear_events()
        self._clear_tickets()

    def upgrade(self) -> None:
        """Create the collections' indexes and the id counter (see ``mongodb_ttl_index``).

        Idempotent, and safe when several processes upgrade one new database
        at once: what a concurrent creator makes them fail with (the
        counter's upsert, an index built or dropped by the other) is done
        again, which then finds the work done.
        """
        for attempt in range(1, UPGRADE_ATTEMPTS + 1):
            try:
                self._create_event_indexes(self._ttl_seconds())
                self._create_ticket_indexes()
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
