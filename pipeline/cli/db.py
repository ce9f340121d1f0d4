"""Schema and retention commands: ``pipeline dbsync`` and ``pipeline expire``."""

from __future__ import annotations

import argparse
import logging

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


def expire(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Delete events older than ``event_time_to_live`` in bounded batches."""
    ttl = conf.database.event_time_to_live
    if ttl <= 0:
        print("event_time_to_live is not set (<= 0): events are kept forever; nothing deleted")
        return 0
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENT_EXPIRY])
    batch = conf.database.events_delete_batch_size
    total = 0
    try:
        while True:
            deleted = conn.clear_expired_data(ttl, max_count=batch)
            total += deleted
            if deleted:
                LOG.info("deleted %d expired events (%d so far)", deleted, total)
            if deleted < batch:
                break
    finally:
        conn.close()
    print(f"deleted {total} events older than {ttl} seconds")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dbsync`` and ``expire``."""
    parser = subparsers.add_parser(
        "dbsync", help="create or upgrade the database schema",
        description="Create the tables (or collections and indexes) of "
        "[database] connection, or migrate them to this version. Safe to run "
        "again.",
    )
    parser.set_defaults(func=dbsync)
    parser = subparsers.add_parser(
        "expire", help="delete events older than [database] event_time_to_live",
        description="Delete events generated more than [database] "
        "event_time_to_live seconds ago, [database] events_delete_batch_size "
        "at a time, and print how many were deleted.",
    )
    parser.set_defaults(func=expire)
