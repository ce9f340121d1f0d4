"""The reference answers of the differential event tests, computed in Python.

:class:`ReferenceEvents` keeps what a correct driver stores (the first copy
of each message id, traits converted and sorted by name) and answers every
read with :func:`pipeline.storage.query.evaluate`, the one written statement
of the query semantics. :func:`fingerprint` compares results strictly: a
float's sign and bits, a datetime's offset, each value's Python type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.exceptions import InvalidMarker
from pipeline.models import Event, Trait
from pipeline.storage import EventFilter, RecordResult
from pipeline.storage.query import build_event_query, evaluate, sort_values


def exact(value: Any) -> Any:
    """A comparable form of ``value`` that keeps its type, float sign and offset."""
    if isinstance(value, float):
        # Every bit counts, but zero's sign: SQLite stores integral REALs as
        # integers and MariaDB's DOUBLE drops it, and -0.0 == 0.0 holds.
        return ("float", (value or 0.0).hex())
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat())  # aware UTC reads back as +00:00
    return (type(value).__name__, value)


def fingerprint(event: Event) -> tuple[Any, ...]:
    """Everything about ``event`` that a driver must give back exactly."""
    traits = tuple((t.name, t.dtype, exact(t.value)) for t in event.traits)
    return (event.message_id, event.event_type, exact(event.generated), traits, event.raw)


def canonical(event: Event) -> Event:
    """``event`` as a driver stores it: values converted, traits sorted by name."""
    traits = sorted(
        (Trait.checked(t.name, t.dtype, t.value) for t in event.traits), key=lambda t: t.name
    )
    return Event(event.message_id, event.event_type, event.generated, tuple(traits), event.raw)


#: The promised limits, written out here rather than imported from the code under test.
NAME_LIMIT, TEXT_LIMIT = 255, 4 * 1024 * 1024


def storable(event: Event) -> bool:
    """Whether every driver must store ``event`` (the accepted-value rules, restated).

    Names (message id, event type, trait names) of at most 255 characters;
    no NUL and no surrogate code point in a name or text value; at most
    4 MiB of UTF-8 text in all.
    """
    names = [event.message_id, event.event_type, *(trait.name for trait in event.traits)]
    texts = names + [t.value for t in event.traits if t.dtype == Trait.TEXT_TYPE]
    if any(len(name) > NAME_LIMIT for name in names) or any("\x00" in t for t in texts):
        return False
    try:  # UTF-8 has no encoding for a surrogate code point
        return sum(len(text.encode("utf-8")) for text in texts) <= TEXT_LIMIT
    except UnicodeEncodeError:
        return False


class ReferenceEvents:
    """What every driver must answer after the same ``record_events`` calls."""

    def __init__(self) -> None:
        self.events: dict[str, Event] = {}

    def record(self, batch: Iterable[Event]) -> RecordResult:
        """Keep the first storable copy of each message id, as ``record_events`` must.

        Events :func:`storable` refuses are in ``failed`` (the reason is not
        modelled: only which events fail).
        """
        result = RecordResult()
        for event in batch:
            if not storable(event):
                result.failed[event.message_id] = "refused"
            elif event.message_id in self.events:
                result.duplicates.append(event.message_id)
            else:
                self.events[event.message_id] = canonical(event)
                result.stored.append(event.message_id)
        return result

    def get_events(
        self, event_filter: EventFilter, pagination: Mapping[str, Any] | None = None
    ) -> list[Event]:
        """The answer of ``get_events``: filter, keyset after the marker, order, limit."""
        query = build_event_query(event_filter, pagination)
        marker = (pagination or {}).get("marker")
        if marker is not None:
            if marker not in self.events:
                raise InvalidMarker(marker)
            query = query.with_after(sort_values(query, self.events[marker].generated, marker))
        return evaluate(self.events.values(), query)

    def get_event_types(self) -> list[str]:
        """Every event type stored, sorted by code point."""
        return sorted({event.event_type for event in self.events.values()})

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        """Distinct (name, dtype) of the type's traits, sorted."""
        found = {
            (trait.name, trait.dtype)
            for event in self.events.values()
            if event.event_type == event_type
            for trait in event.traits
        }
        return [{"name": name, "data_type": dtype} for name, dtype in sorted(found)]

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        """Traits of the type's events, oldest event first (then message id), then name."""
        ordered = sorted(
            (e for e in self.events.values() if e.event_type == event_type),
            key=lambda e: (e.generated, e.message_id),
        )
        return [t for e in ordered for t in e.traits if trait_type in (None, t.name)]

    def values(self) -> dict[tuple[str, int], list[Any]]:
        """Values stored by ``(trait name, dtype)``, in a stable order."""
        found: dict[tuple[str, int], list[Any]] = {}
        for event in sorted(self.events.values(), key=lambda e: e.message_id):
            for trait in event.traits:
                found.setdefault((trait.name, trait.dtype), []).append(trait.value)
        return found
