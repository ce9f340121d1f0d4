"""Schema and retention commands: ``pipeline dbsync`` and ``pipeline expire``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from oslo_config import cfg

from pipeline import storage
from pipeline.storage import Capability

LOG = logging.getLogger(__name__)


def dbsync(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Create or upgrade the schema of ``[database] connection``."""
    conn = storage.get_connection_from_config(conf)
    try:
        conn.upgrade()
    finally:
        conn.close()
    print(f"schema of {storage.dress_url(conf.database.connection)} is up to date")
    return 0


def _expire_in_batches(delete_batch: Callable[[int], int], batch: int, what: str) -> int:
    """Call ``delete_batch(batch)`` until it deletes fewer than ``batch``; the total."""
    total = 0
    while True:
        deleted = delete_batch(batch)
        total += deleted
        if deleted:
            LOG.info("deleted %d expired %s (%d so far)", deleted, what, total)
        if deleted < batch:
            return total


def _expire_events(conn: storage.Connection, ttl: int, batch: int) -> int:
    """Delete expired events in batches, or at once where the driver bounds its steps itself."""
    if conn.expires_in_bounded_steps:  # PostgreSQL: whole partitions, then the edge in chunks
        return conn.clear_expired_data(ttl)
    return _expire_in_batches(lambda n: conn.clear_expired_data(ttl, max_count=n), batch, "events")


def expire(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Delete events and ticket occurrences past their time to live, in bounded batches.

    Events older than ``[database] event_time_to_live``, then occurrences older
    than ``[ticketing] occurrence_time_to_live`` (ticket counts are kept); a
    time to live <= 0 keeps them forever.
    """
    event_ttl = conf.database.event_time_to_live
    occurrence_ttl = conf.ticketing.occurrence_time_to_live
    if event_ttl <= 0 and occurrence_ttl <= 0:
        print(
            "event_time_to_live and occurrence_time_to_live are not set (<= 0): events and "
            "ticket occurrences are kept forever; nothing deleted"
        )
        return 0
    required = [Capability.EVENT_EXPIRY] if event_ttl > 0 else []
    if occurrence_ttl > 0:
        required.append(Capability.TICKET_EXPIRY)
    conn = storage.get_connection_from_config(conf, require=required)
    batch = conf.database.events_delete_batch_size
    try:
        if event_ttl > 0:
            total = _expire_events(conn, event_ttl, batch)
            print(f"deleted {total} events older than {event_ttl} seconds")
        if occurrence_ttl > 0:
            total = _expire_in_batches(
                lambda n: conn.clear_expired_occurrences(occurrence_ttl, max_count=n),
                batch,
                "ticket occurrences",
            )
            print(
                f"deleted {total} ticket occurrences older than {occurrence_ttl} seconds; "
                "ticket counts are kept"
            )
    finally:
        conn.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dbsync`` and ``expire``."""
    parser = subparsers.add_parser(
        "dbsync",
        help="create or upgrade the database schema",
        description="Create the tables (or collections and indexes) of "
        "[database] connection, or migrate them to this version. Safe to run "
        "again.",
    )
    parser.set_defaults(func=dbsync)
    parser = subparsers.add_parser(
        "expire",
        help="delete expired events and ticket occurrences",
        description="Delete events generated more than [database] "
        "event_time_to_live seconds ago and ticket occurrences older than "
        "[ticketing] occurrence_time_to_live (tickets keep their counts), "
        "[database] events_delete_batch_size at a time, and print how many "
        "were deleted. A time to live <= 0 keeps that kind forever.",
    )
    parser.set_defaults(func=expire)
