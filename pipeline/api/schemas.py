"""JSON shapes of the API, as pydantic models (they also make the OpenAPI doc).

The v2 shapes are Panko's: a trait value is its text form (datetimes in ISO
8601) next to its type name, and ``generated`` is naive UTC ISO 8601, as
Panko returned them, so existing clients parse responses unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from pipeline.models import UTC, Event, Occurrence, Ticket, Trait


def iso_utc(value: dt.datetime) -> str:
    """Panko's datetime text: naive UTC ISO 8601."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat()


class TraitOut(BaseModel):
    """A trait of an event: name, API type name and value as text."""

    name: str
    type: str
    value: str

    @classmethod
    def of(cls, trait: Trait) -> TraitOut:
        """Panko's rendering of a stored trait."""
        is_datetime = trait.dtype == Trait.DATETIME_TYPE
        value = iso_utc(trait.value) if is_datetime else str(trait.value)
        return cls(name=trait.name, type=Trait.get_name_by_type(trait.dtype), value=value)


class EventOut(BaseModel):
    """One event in Panko v2's shape."""

    message_id: str
    event_type: str
    generated: str
    traits: list[TraitOut]
    raw: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """The API form of a stored event."""
        return cls(
            message_id=event.message_id,
            event_type=event.event_type,
            generated=iso_utc(event.generated),
            traits=[TraitOut.of(trait) for trait in event.traits],
            raw=event.raw or {},
        )


def event_dict(event: Event) -> dict[str, Any]:
    """:class:`EventOut` of ``event`` as plain data, skipping pydantic (the hot path)."""
    return {
        "message_id": event.message_id,
        "event_type": event.event_type,
        "generated": iso_utc(event.generated),
        "traits": [
            {
                "name": t.name,
                "type": Trait.get_name_by_type(t.dtype),
                "value": iso_utc(t.value) if t.dtype == Trait.DATETIME_TYPE else str(t.value),
            }
            for t in event.traits
        ],
        "raw": event.raw or {},
    }


class TraitDescription(BaseModel):
    """A trait name of an event type with its type name, no value."""

    name: str
    type: str


class Capabilities(BaseModel):
    """What the API and the storage behind it support (Panko's shape)."""

    api: dict[str, bool]
    event_storage: dict[str, bool]


class ErrorBody(BaseModel):
    """``faultstring`` says what was wrong; ``faultcode`` is Client or Server."""

    faultstring: str
    faultcode: str
    debuginfo: str | None = None


class ErrorOut(BaseModel):
    """Every error response: WSME's body as Panko wrapped it."""

    error_message: ErrorBody


class TicketOut(BaseModel):
    """A ticket: its grouping key, where it fires, counts, times and status."""

    ticket_id: int
    record_hash: str
    app_id: str
    level: int
    level_name: str
    channel: str
    location: str
    module: str | None
    first_occurrence_time: dt.datetime
    last_occurrence_time: dt.datetime
    occurrence_count: int
    solved: bool
    status: str

    @classmethod
    def of(cls, ticket: Ticket, level_name: str) -> TicketOut:
        """The API form of a stored ticket."""
        return cls(
            ticket_id=ticket.ticket_id,
            record_hash=ticket.record_hash,
            app_id=ticket.app_id,
            level=ticket.level,
            level_name=level_name,
            channel=ticket.channel,
            location=ticket.location,
            module=ticket.module,
            first_occurrence_time=ticket.first_occurrence_time,
            last_occurrence_time=ticket.last_occurrence_time,
            occurrence_count=ticket.occurrence_count,
            solved=ticket.solved,
            status=ticket.status.value,
        )


class TicketList(BaseModel):
    """One page of tickets and how many match in all."""

    tickets: list[TicketOut]
    total: int
    limit: int
    offset: int


class OccurrenceOut(BaseModel):
    """One stored log record of a ticket."""

    occurrence_id: int
    ticket_id: int
    app_id: str
    time: dt.datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, occurrence: Occurrence) -> OccurrenceOut:
        """The API form of a stored occurrence."""
        return cls(
            occurrence_id=occurrence.occurrence_id,
            ticket_id=occurrence.ticket_id,
            app_id=occurrence.app_id,
            time=occurrence.time,
            data=occurrence.data,
        )


class OccurrenceList(BaseModel):
    """One page of a ticket's occurrences, newest first by default."""

    occurrences: list[OccurrenceOut]
    limit: int
    offset: int
