"""What the demo stored, read back from storage and printed for a newcomer.

Every number printed comes from the storage driver after the run (not from
the consumer's counters), so the summary also proves the data is there.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

from pipeline import storage
from pipeline.convert.tickets import LEVELS
from pipeline.models import Event, Ticket, Trait
from pipeline.storage import Capability, EventFilter

_LEVEL_NAMES = {number: name for name, number in LEVELS.items()}
#: Events and tickets shown in detail.
SHOWN_EVENTS, SHOWN_TICKETS, SHOWN_TRAITS = 3, 5, 6


@dataclass
class Summary:
    """The stored state the demo reports."""

    location: str
    events_by_type: list[tuple[str, int]] = field(default_factory=list)
    examples: list[Event] = field(default_factory=list)
    tickets: list[tuple[Ticket, str]] = field(default_factory=list)
    ticket_count: int | None = None  # None: the driver stores no tickets

    @property
    def event_count(self) -> int:
        """Events of every type."""
        return sum(count for _, count in self.events_by_type)


def location(url: str) -> str:
    """The SQLite file as an absolute path, any other storage as its masked URL."""
    if storage.url_scheme(url) == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            return os.path.abspath(database)
    return storage.dress_url(url)


def collect(conn: storage.Connection) -> Summary:
    """Read the summary's figures from ``conn``."""
    summary = Summary(location(conn.url))
    for event_type in conn.get_event_types():
        count = len(conn.get_events(EventFilter(event_type=event_type)))
        summary.events_by_type.append((event_type, count))
    summary.events_by_type.sort(key=lambda item: (-item[1], item[0]))
    seen: set[str] = set()
    for event in conn.get_events(None, {"limit": 200, "sort": [("generated", "desc")]}):
        if event.traits and event.event_type not in seen and len(seen) < SHOWN_EVENTS:
            seen.add(event.event_type)
            summary.examples.append(event)
    if Capability.TICKETS in conn.capabilities:
        summary.ticket_count = conn.count_tickets()
        for ticket in conn.get_tickets(order_by="-occurrence_count", limit=SHOWN_TICKETS):
            latest = conn.get_occurrences(ticket.ticket_id, limit=1)
            message = str(latest[0].data.get("message", "")) if latest else ""
            summary.tickets.append((ticket, message))
    return summary


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _trait(trait: Trait) -> str:
    value = _when(trait.value) if trait.dtype == Trait.DATETIME_TYPE else trait.value
    return f"{trait.name} = {value!r} ({Trait.get_name_by_type(trait.dtype)})"


def _where(ticket: Ticket) -> str:
    # Error notifications have no source line; their module is the event type.
    return ticket.module or "" if ticket.location.startswith(":") else ticket.location


def render(summary: Summary) -> list[str]:
    """The summary as printable lines."""
    lines = ["", "Events by type:"]
    lines += [f"  {count:7d}  {event_type}" for event_type, count in summary.events_by_type]
    lines += [f"  {summary.event_count:7d}  events in total", "", "A few events with their traits:"]
    for event in summary.examples:
        lines.append(f"  {event.event_type}  {_when(event.generated)} UTC  {event.message_id}")
        lines += [f"      {_trait(trait)}" for trait in event.traits[:SHOWN_TRAITS]]
        if len(event.traits) > SHOWN_TRAITS:
            lines.append(f"      ... {len(event.traits) - SHOWN_TRAITS} more traits")
    lines.append("")
    if summary.ticket_count is None:
        lines.append("Tickets: this storage driver stores none.")
    else:
        lines.append(f"Top tickets ({summary.ticket_count} tickets in total):")
        lines.append(
            f"  {'id':>4}  {'count':>6}  {'level':<8}  {'first seen':<19}  "
            f"{'last seen':<19}  where / latest message"
        )
        for ticket, message in summary.tickets:
            lines.append(
                f"  {ticket.ticket_id:>4}  {ticket.occurrence_count:>6}  "
                f"{_LEVEL_NAMES.get(ticket.level, str(ticket.level)):<8}  "
                f"{_when(ticket.first_occurrence_time)}  {_when(ticket.last_occurrence_time)}  "
                f"{ticket.channel} {_where(ticket)}"
            )
            lines.append(f"  {'':>4}  {'':>6}  {'':<8}  {'':<19}  {'':<19}  {message[:70]}")
    return lines
