"""The event primitives of the memory driver: events in a dict keyed by message id.

One lock makes each primitive atomic. Queries are answered by
:func:`pipeline.storage.query.evaluate`, the reference evaluation of the
query semantics every other driver translates.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

from pipeline.models import Event, Trait
from pipeline.storage.base import RecordResult
from pipeline.storage.query import EventQuery, evaluate, trait_types_of, traits_of


def _by_time(event: Event) -> tuple[dt.datetime, str]:
    return (event.generated, event.message_id)


class MemoryEvents:
    """Event primitives backed by a dict, for :mod:`pipeline.storage.impl_memory`."""

    def _open_events(self) -> None:
        """Start with no events (the driver's constructor calls this)."""
        self._event_lock = threading.RLock()
        self._events: dict[str, Event] = {}

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        result = RecordResult()
        with self._event_lock:
            for event in events:
                if event.message_id in self._events:
                    result.duplicates.append(event.message_id)
                else:
                    self._events[event.message_id] = event
                    result.stored.append(event.message_id)
        return result

    def _event_generated(self, message_id: str) -> dt.datetime | None:
        event = self._events.get(message_id)
        return None if event is None else event.generated

    def _query_events(self, query: EventQuery) -> list[Event]:
        with self._event_lock:
            candidates = list(self._events.values())
        return evaluate(candidates, query)

    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        with self._event_lock:
            expired = sorted(
                (e for e in self._events.values() if e.generated < cutoff), key=_by_time
            )
            for event in expired[:max_count]:
                del self._events[event.message_id]
        return len(expired[:max_count])

    def _of_type(self, event_type: str) -> list[Event]:
        with self._event_lock:
            return [e for e in self._events.values() if e.event_type == event_type]

    def get_event_types(self) -> list[str]:
        with self._event_lock:
            return sorted({e.event_type for e in self._events.values()})

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        return trait_types_of(self._of_type(event_type))

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        return traits_of(sorted(self._of_type(event_type), key=_by_time), trait_type)

    def _clear_events(self) -> None:
        with self._event_lock:
            self._events.clear()
