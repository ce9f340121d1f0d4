"""In-process storage driver: a real driver kept in Python dicts.

URL: ``memory://`` (anything after the scheme is ignored; every
:class:`Connection` has its own store). Capabilities: all of them.
Nothing survives the process. It exists for tests, demos and embedding, and
it is the reference implementation of the query semantics in
:mod:`pipeline.storage.query`: it answers queries with
:func:`pipeline.storage.query.evaluate`, built on the same operator table the
SQL and MongoDB drivers translate.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from pipeline.models import Event, Trait
from pipeline.storage.base import Capability, RecordResult
from pipeline.storage.base import Connection as BaseConnection
from pipeline.storage.memory_tickets import MemoryTickets
from pipeline.storage.query import EventQuery, evaluate


class EventStore:
    """The event half of the memory driver."""

    capabilities = frozenset({Capability.EVENTS, Capability.EVENT_EXPIRY})

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._events: dict[str, Event] = {}

    def write(self, events: Sequence[Event]) -> RecordResult:
        result = RecordResult()
        with self._lock:
            for event in events:
                if event.message_id in self._events:
                    result.duplicates.append(event.message_id)
                else:
                    self._events[event.message_id] = event
                    result.stored.append(event.message_id)
        return result

    def generated(self, message_id: str) -> dt.datetime | None:
        event = self._events.get(message_id)
        return None if event is None else event.generated

    def query(self, query: EventQuery) -> list[Event]:
        with self._lock:
            candidates = list(self._events.values())
        return evaluate(candidates, query)

    def delete_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        with self._lock:
            expired = sorted(
                (e for e in self._events.values() if e.generated < cutoff),
                key=lambda e: (e.generated, e.message_id),
            )
            if max_count is not None:
                expired = expired[:max_count]
            for event in expired:
                del self._events[event.message_id]
        return len(expired)

    def of_type(self, event_type: str) -> list[Event]:
        with self._lock:
            return [e for e in self._events.values() if e.event_type == event_type]

    def event_types(self) -> list[str]:
        with self._lock:
            return sorted({e.event_type for e in self._events.values()})

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


class Connection(MemoryTickets, BaseConnection):
    """Memory driver: events (and tickets, see the ticket store) in dicts."""

    capabilities = frozenset(Capability)

    def __init__(self, url: str = "memory://", conf: cfg.ConfigOpts | None = None) -> None:
        BaseConnection.__init__(self, url, conf)
        MemoryTickets.__init__(self)
        self._store = EventStore()

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        return self._store.write(events)

    def _event_generated(self, message_id: str) -> dt.datetime | None:
        return self._store.generated(message_id)

    def _query_events(self, query: EventQuery) -> list[Event]:
        return self._store.query(query)

    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        return self._store.delete_before(cutoff, max_count)

    def get_event_types(self) -> list[str]:
        return self._store.event_types()

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        found = {
            (trait.name, trait.dtype)
            for event in self._store.of_type(event_type)
            for trait in event.traits
        }
        return [{"name": name, "data_type": dtype} for name, dtype in sorted(found)]

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        return [
            trait
            for event in sorted(
                self._store.of_type(event_type), key=lambda e: (e.generated, e.message_id)
            )
            for trait in event.traits
            if trait_type is None or trait.name == trait_type
        ]

    def clear(self) -> None:
        self._store.clear()
        self._clear_tickets()

    def upgrade(self) -> None:
        """Nothing to create: the store is a dict."""
