"""``pipeline import panko URL`` and ``pipeline import logbook URL``.

Both read another program's database (never writing to it) and store what
they find in ``[database] connection``, in batches, with a progress line on
standard error and a summary on standard output at the end — also when
interrupted (Ctrl-C exits 130, a storage error 1; running the same command
again finishes the work). See :mod:`pipeline.importers.events` and
:mod:`pipeline.importers.tickets` for what is kept and how.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Iterator

from oslo_config import cfg

from pipeline import storage
from pipeline.exceptions import ConfigError
from pipeline.importers import panko_mongo
from pipeline.importers.events import BATCH_SIZE, PankoSource, import_events
from pipeline.importers.logbook import DEFAULT_PREFIX, LogbookReader
from pipeline.importers.panko import TABLES, PankoFilter, PankoReader
from pipeline.importers.progress import Progress
from pipeline.importers.source import open_source, require_tables
from pipeline.importers.summary import ImportSummary
from pipeline.importers.tickets import import_tickets
from pipeline.models import parse_datetime
from pipeline.storage import Capability


def _time(text: str) -> dt.datetime:
    try:
        return parse_datetime(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


@contextlib.contextmanager
def _reported(summary: ImportSummary, progress: Progress) -> Iterator[None]:
    """Finish the progress line and print the summary, however the import ends."""
    try:
        yield
    finally:
        progress.finish()
        print("\n".join(summary.lines()), flush=True)


@contextlib.contextmanager
def _panko_reader(url: str, where: PankoFilter) -> Iterator[PankoSource]:
    """The reader of Panko's layout at ``url``: MongoDB's or SQLAlchemy's (by scheme)."""
    if panko_mongo.is_mongodb_url(url):
        with panko_mongo.open_reader(url, where) as reader:
            yield reader
        return
    engine = open_source(url)
    try:
        require_tables(engine, TABLES, "Panko", url)
        yield PankoReader(engine, where)
    finally:
        engine.dispose()


def import_panko(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Import the events of a Panko database (see :mod:`pipeline.importers.events`)."""
    where = PankoFilter(args.since, args.until, tuple(args.event_type or ()))
    with _panko_reader(args.url, where) as reader:
        try:
            after_id = None if args.after_id is None else reader.id_of(args.after_id)
        except ValueError as err:
            raise ConfigError(f"--after-id: {err}") from None
        conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
        try:
            summary = ImportSummary("events")
            progress = Progress(reader.count(), "events", sys.stderr)
            with _reported(summary, progress):
                import_events(
                    reader,
                    conn,
                    summary,
                    batch_size=args.batch_size,
                    after_id=after_id,
                    progress=progress,
                )
        finally:
            conn.close()
    return 1 if summary.refused_count else 0


def import_logbook(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Import logbook's tickets (see :mod:`pipeline.importers.tickets`)."""
    engine = open_source(args.url)
    try:
        reader = LogbookReader(engine, args.table_prefix, tuple(args.app_id or ()))
        require_tables(engine, [t.name for t in reader.tables], "logbook ticketing", args.url)
        conn = storage.get_connection_from_config(conf, require=[Capability.TICKETS])
        try:
            tickets = reader.tickets()
            summary = ImportSummary("occurrences", already_there=None)
            progress = Progress(sum(t.stored for t in tickets.values()), "occurrences", sys.stderr)
            with _reported(summary, progress):
                import_tickets(
                    reader, conn, tickets, summary, batch_size=args.batch_size, progress=progress
                )
        finally:
            conn.close()
    finally:
        engine.dispose()
    return 1 if summary.refused_count else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import panko`` and ``import logbook``."""
    group = subparsers.add_parser(
        "import",
        help="import Panko's events or logbook's tickets",
        description="Copy another program's records into [database] connection. The "
        "source is only read. Idempotent: run again after an interruption to finish.",
    )
    commands = group.add_subparsers(dest="import_command", metavar="SOURCE")
    commands.required = True
    parser = commands.add_parser(
        "panko",
        help="events of a Panko database (SQLite, PostgreSQL, MySQL or MongoDB)",
        description="Store the events of a Panko 10 database, typed as Panko stored "
        "them; events already stored (same message id) are skipped. Reads Panko's "
        "SQLAlchemy layout, or its MongoDB layout for a mongodb:// URL.",
    )
    parser.add_argument(
        "url",
        metavar="URL",
        help="Panko's [database] connection URL (mongodb://HOST/NAME for MongoDB)",
    )
    parser.add_argument("--since", type=_time, metavar="TIME", help="generated at or after")
    parser.add_argument("--until", type=_time, metavar="TIME", help="generated at or before")
    parser.add_argument(
        "--event-type", action="append", metavar="TYPE", help="only this event type (repeatable)"
    )
    parser.add_argument(
        "--after-id",
        metavar="ID",
        help="start after this Panko event id, as an interrupted import prints it: "
        "the number event.id of an SQL database, the _id (the message id) of a MongoDB one",
    )
    parser.set_defaults(func=import_panko)
    _batch_option(parser, BATCH_SIZE)
    parser = commands.add_parser(
        "logbook",
        help="tickets of logbook's ticketing handler (SQLAlchemy tables)",
        description="Store logbook's tickets and their occurrences, with counts, times, "
        "solved flags and record hashes (so grouping = logbook goes on adding to them).",
    )
    parser.add_argument("url", metavar="URL", help="the database logbook's handler wrote")
    parser.add_argument(
        "--table-prefix",
        default=DEFAULT_PREFIX,
        metavar="PREFIX",
        help=f"logbook's table_prefix (default {DEFAULT_PREFIX})",
    )
    parser.add_argument(
        "--app-id", action="append", metavar="APP", help="only this app id (repeatable)"
    )
    parser.set_defaults(func=import_logbook)
    _batch_option(parser)


def _batch_option(parser: argparse.ArgumentParser, default: int = 1000) -> None:
    parser.add_argument(
        "--batch-size",
        type=_positive,
        default=default,
        metavar="N",
        help=f"records per storage call (default {default})",
    )
