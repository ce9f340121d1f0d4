"""Event read commands: ``events list``, ``events show``, ``event-types``, ``traits``.

``--trait`` takes ``name[:type]<op>value``: type is ``string`` (default),
``integer``/``int``, ``float`` or ``datetime``; op is one of ``= == != < <=
> >=``. Example: ``--trait memory_mb:int>=2048``. Conditions are ANDed.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from oslo_config import cfg

from pipeline import storage
from pipeline.cli.output import add_format_option, print_fields, print_json, print_table
from pipeline.exceptions import EventNotFound, InvalidQuery
from pipeline.models import Event, Trait
from pipeline.storage import Capability, EventFilter

_TRAIT = re.compile(
    r"^(?P<name>[^:<>=!]+)(?::(?P<type>[a-z]+))?(?P<op>==|!=|<=|>=|=|<|>)(?P<value>.*)$"
)
_OPS = {"=": "eq", "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_TYPES = {
    "string": "string",
    "text": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "float": "float",
    "datetime": "datetime",
}


def trait_filter(spec: str) -> dict[str, Any]:
    """One ``--trait`` spec as an EventFilter ``traits_filter`` item."""
    match = _TRAIT.match(spec)
    if match is None:
        raise InvalidQuery(
            f"--trait {spec!r}: expected name[:type]<op>value, e.g. memory_mb:int>=2048"
        )
    type_name = _TYPES.get(match["type"] or "string")
    if type_name is None:
        raise InvalidQuery(
            f"--trait {spec!r}: unknown type {match['type']!r}; use one of "
            "string, integer, float, datetime"
        )
    return {"key": match["name"].strip(), type_name: match["value"], "op": _OPS[match["op"]]}


def sort_item(text: str) -> tuple[str, str]:
    """``key[:dir]`` as a (key, direction) pair; checked by the storage query."""
    key, _, direction = text.partition(":")
    return key, direction or "asc"


def event_json(event: Event) -> dict[str, Any]:
    """An event as JSON-ready data, trait values keeping their types."""
    return {
        "message_id": event.message_id,
        "event_type": event.event_type,
        "generated": event.generated,
        "traits": [
            {"name": t.name, "type": Trait.get_name_by_type(t.dtype), "value": t.value}
            for t in event.traits
        ],
        "raw": event.raw,
    }


def _traits_text(event: Event) -> str:
    return ", ".join(
        f"{t.name}={t.value.isoformat() if hasattr(t.value, 'isoformat') else t.value}"
        for t in event.traits
    )


def list_events(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Print the events matching the options."""
    event_filter = EventFilter(
        start_timestamp=args.since,
        end_timestamp=args.until,
        event_type=args.event_type,
        traits_filter=[trait_filter(spec) for spec in args.trait],
    )
    pagination = {
        "limit": args.limit,
        "marker": args.marker,
        "sort": [sort_item(item) for item in args.sort],
    }
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
    try:
        events = conn.get_events(event_filter, pagination)
    finally:
        conn.close()
    if args.format == "json":
        print_json([event_json(e) for e in events])
    else:
        print_table(
            ("GENERATED", "MESSAGE_ID", "EVENT_TYPE", "TRAITS"),
            [(e.generated, e.message_id, e.event_type, _traits_text(e)) for e in events],
        )
    return 0


def show_event(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Print one event with all its traits; exit 1 when it does not exist."""
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
    try:
        events = conn.get_events(EventFilter(message_id=args.message_id), {"limit": 1})
    finally:
        conn.close()
    if not events:
        raise EventNotFound(f"no event has message_id {args.message_id!r}")
    event = events[0]
    if args.format == "json":
        print_json(event_json(event))
        return 0
    print_fields(
        [
            ("message_id", event.message_id),
            ("event_type", event.event_type),
            ("generated", event.generated),
        ]
    )
    print()
    print_table(
        ("TRAIT", "TYPE", "VALUE"),
        [(t.name, Trait.get_name_by_type(t.dtype), t.value) for t in event.traits],
    )
    if event.raw:
        print()
        print_json(event.raw)
    return 0


def list_event_types(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Print every event type that has events."""
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
    try:
        types = conn.get_event_types()
    finally:
        conn.close()
    if args.format == "json":
        print_json(types)
    else:
        print_table(("EVENT_TYPE",), [(name,) for name in types])
    return 0


def list_traits(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Trait names and types of an event type, or every value of one trait."""
    conn = storage.get_connection_from_config(conf, require=[Capability.EVENTS])
    try:
        if args.trait is None:
            kinds = [
                (i["name"], Trait.get_name_by_type(i["data_type"]))
                for i in conn.get_trait_types(args.event_type)
            ]
        else:
            values = conn.get_traits(args.event_type, args.trait)
    finally:
        conn.close()
    if args.trait is None:
        if args.format == "json":
            print_json([{"name": name, "type": kind} for name, kind in kinds])
        else:
            print_table(("TRAIT", "TYPE"), kinds)
    elif args.format == "json":
        print_json(
            [
                {"name": t.name, "type": Trait.get_name_by_type(t.dtype), "value": t.value}
                for t in values
            ]
        )
    else:
        print_table(
            ("TRAIT", "TYPE", "VALUE"),
            [(t.name, Trait.get_name_by_type(t.dtype), t.value) for t in values],
        )
    return 0


def _add_list(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "list",
        help="list events matching filters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--event-type", help="exact event type")
    parser.add_argument("--since", metavar="TIME", help="generated at or after (ISO 8601)")
    parser.add_argument("--until", metavar="TIME", help="generated at or before (ISO 8601)")
    parser.add_argument(
        "--trait",
        action="append",
        default=[],
        metavar="NAME[:TYPE]OPVALUE",
        help="trait condition, repeatable, e.g. memory_mb:int>=2048",
    )
    parser.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    parser.add_argument(
        "--sort",
        action="append",
        default=[],
        metavar="KEY[:DIR]",
        help="generated or message_id, asc or desc (repeatable)",
    )
    parser.add_argument(
        "--marker",
        metavar="MESSAGE_ID",
        help="start after this event (the last one of the previous page)",
    )
    add_format_option(parser)
    parser.set_defaults(func=list_events)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``events list|show``, ``event-types`` and ``traits``."""
    group = subparsers.add_parser("events", help="list and show stored events")
    commands = group.add_subparsers(dest="events_command", metavar="ACTION")
    commands.required = True
    _add_list(commands)
    parser = commands.add_parser("show", help="one event with all its traits")
    parser.add_argument("message_id")
    add_format_option(parser)
    parser.set_defaults(func=show_event)
    parser = subparsers.add_parser("event-types", help="list the event types that have events")
    add_format_option(parser)
    parser.set_defaults(func=list_event_types)
    parser = subparsers.add_parser(
        "traits", help="trait names of an event type, or the values of one trait"
    )
    parser.add_argument("event_type")
    parser.add_argument("trait", nargs="?", help="show this trait's values instead of the names")
    add_format_option(parser)
    parser.set_defaults(func=list_traits)
