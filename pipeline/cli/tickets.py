"""Ticket commands: ``tickets list``, ``tickets show``, ``tickets solve``, ``tickets delete``."""

from __future__ import annotations

import argparse
from typing import Any

from oslo_config import cfg

from pipeline import storage
from pipeline.api.levels import level_name, parse_level
from pipeline.cli.output import add_format_option, print_fields, print_json, print_table
from pipeline.exceptions import InvalidQuery
from pipeline.models import Occurrence, Ticket, TicketStatus
from pipeline.storage import Capability, Connection

SHOW_OCCURRENCES = 10


def _connect(conf: cfg.ConfigOpts) -> Connection:
    return storage.get_connection_from_config(conf, require=[Capability.TICKETS])


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """A ticket as JSON-ready data."""
    return {
        "ticket_id": ticket.ticket_id,
        "record_hash": ticket.record_hash,
        "app_id": ticket.app_id,
        "level": ticket.level,
        "level_name": level_name(ticket.level),
        "channel": ticket.channel,
        "location": ticket.location,
        "module": ticket.module,
        "first_occurrence_time": ticket.first_occurrence_time,
        "last_occurrence_time": ticket.last_occurrence_time,
        "occurrence_count": ticket.occurrence_count,
        "solved": ticket.solved,
        "status": ticket.status.value,
    }


def occurrence_json(occurrence: Occurrence) -> dict[str, Any]:
    """An occurrence as JSON-ready data."""
    return {
        "occurrence_id": occurrence.occurrence_id,
        "ticket_id": occurrence.ticket_id,
        "app_id": occurrence.app_id,
        "time": occurrence.time,
        "data": occurrence.data,
    }


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    try:
        level = None if args.level is None else parse_level(args.level)
    except ValueError as err:
        raise InvalidQuery(f"--level: {err}") from None
    return {
        "app_id": args.app,
        "level": level,
        "status": None if args.status == "all" else TicketStatus(args.status),
    }


def list_tickets(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Print the tickets matching the options, newest first by default."""
    filters = _filters(args)
    conn = _connect(conf)
    try:
        tickets = conn.get_tickets(args.order_by, args.limit, args.offset, **filters)
    finally:
        conn.close()
    if args.format == "json":
        print_json([ticket_json(t) for t in tickets])
        return 0
    print_table(
        ("ID", "LEVEL", "STATUS", "COUNT", "LAST_SEEN", "APP", "CHANNEL", "LOCATION"),
        [
            (
                t.ticket_id,
                level_name(t.level),
                t.status.value,
                t.occurrence_count,
                t.last_occurrence_time,
                t.app_id,
                t.channel,
                t.location,
            )
            for t in tickets
        ],
    )
    return 0


def show_ticket(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Print one ticket and its latest occurrences; exit 1 when unknown."""
    conn = _connect(conf)
    try:
        ticket = conn.get_ticket(args.ticket_id)
        recent = conn.get_occurrences(args.ticket_id, "-time", args.occurrences, 0)
    finally:
        conn.close()
    if args.format == "json":
        print_json({**ticket_json(ticket), "occurrences": [occurrence_json(o) for o in recent]})
        return 0
    print_fields([(name, value) for name, value in ticket_json(ticket).items()])
    print(f"\nlatest {len(recent)} occurrence(s):")
    print_table(("TIME", "MESSAGE"), [(o.time, o.data.get("message", "")) for o in recent])
    return 0


def _change_ticket(conf: cfg.ConfigOpts, ticket_id: int, change: str, done: str) -> int:
    """Call the connection's ``change`` method on one ticket and say it is ``done``."""
    conn = _connect(conf)
    try:
        getattr(conn, change)(ticket_id)
    finally:
        conn.close()
    print(f"ticket {ticket_id} {done}")
    return 0


def solve_ticket(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Mark a ticket solved; exit 1 when unknown."""
    return _change_ticket(conf, args.ticket_id, "solve_ticket", "solved")


def delete_ticket(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Delete a ticket and its occurrences; exit 1 when unknown."""
    return _change_ticket(conf, args.ticket_id, "delete_ticket", "deleted")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tickets list|show|solve|delete``."""
    group = subparsers.add_parser("tickets", help="list, show, solve and delete tickets")
    commands = group.add_subparsers(dest="tickets_command", metavar="ACTION")
    commands.required = True
    parser = commands.add_parser("list", help="list tickets matching filters")
    parser.add_argument("--app", help="application id")
    parser.add_argument(
        "--status",
        choices=("open", "solved", "regressed", "all"),
        default="all",
        help="ticket status (default all)",
    )
    parser.add_argument("--level", help="minimum level: a name (error) or a number")
    parser.add_argument(
        "--order-by",
        default="-last_occurrence_time",
        metavar="[-]COLUMN",
        help="column to order by, '-' for descending (default -last_occurrence_time)",
    )
    parser.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    parser.add_argument("--offset", type=int, default=0, help="skip this many first")
    add_format_option(parser)
    parser.set_defaults(func=list_tickets)
    parser = commands.add_parser("show", help="one ticket and its latest occurrences")
    parser.add_argument("ticket_id", type=int)
    parser.add_argument(
        "--occurrences",
        type=int,
        default=SHOW_OCCURRENCES,
        metavar="N",
        help=f"how many latest occurrences (default {SHOW_OCCURRENCES})",
    )
    add_format_option(parser)
    parser.set_defaults(func=show_ticket)
    for name, func, text in (
        ("solve", solve_ticket, "mark a ticket solved"),
        ("delete", delete_ticket, "delete a ticket and its occurrences"),
    ):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("ticket_id", type=int)
        parser.set_defaults(func=func)
