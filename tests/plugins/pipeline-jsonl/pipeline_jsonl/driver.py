"""The ``jsonl`` storage driver: events as JSON lines in a directory.

URL: ``jsonl:///absolute/dir`` or ``jsonl://relative/dir`` (relative to the
current directory). Capabilities: EVENTS and EVENT_EXPIRY. It has no
TICKETS: asking for them (``pipeline consume`` with ticketing, the tickets
API) fails at start-up with a clear message instead of losing records.
Options: none of its own; the ``[database]`` ones apply.

Queries scan every stored event, so this driver suits small stores,
examples and tests, not production traffic. It answers queries with
:func:`pipeline.storage.query.evaluate`, the reference evaluation the memory
driver uses too, so it answers exactly as the built-in drivers do.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from oslo_config import cfg

from pipeline.exceptions import ConfigError
from pipeline.models import Event, Trait
from pipeline.storage.base import Capability, RecordResult
from pipeline.storage.base import Connection as BaseConnection
from pipeline.storage.query import EventQuery, evaluate, trait_types_of, traits_of
from pipeline_jsonl.eventlog import EventLog


def directory_of(url: str) -> pathlib.Path:
    """The directory named by a ``jsonl://`` URL."""
    parts = urlsplit(url)
    path = unquote(parts.netloc + parts.path)
    if not path:
        raise ConfigError(f"jsonl URL needs a directory, e.g. jsonl:///var/lib/pipeline: {url!r}")
    return pathlib.Path(path)


class Connection(BaseConnection):
    """Events stored as JSON lines under the directory of the URL."""

    capabilities = frozenset({Capability.EVENTS, Capability.EVENT_EXPIRY})

    def __init__(self, url: str, conf: cfg.ConfigOpts | None = None) -> None:
        super().__init__(url, conf)
        self._log = EventLog(directory_of(url))

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        result = RecordResult()
        with self._log.locked(exclusive=True):
            stored = self._log.events()
            new = [event for event in events if event.message_id not in stored]
            result.duplicates = [e.message_id for e in events if e.message_id in stored]
            if new:
                self._log.append(new)
            result.stored = [event.message_id for event in new]
        return result

    def _all(self) -> list[Event]:
        with self._log.locked(exclusive=False):
            return list(self._log.events().values())

    def _event_generated(self, message_id: str) -> dt.datetime | None:
        with self._log.locked(exclusive=False):
            event = self._log.events().get(message_id)
        return None if event is None else event.generated

    def _query_events(self, query: EventQuery) -> list[Event]:
        return evaluate(self._all(), query)

    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        with self._log.locked(exclusive=True):
            events = self._log.events()
            expired = sorted(
                (e for e in events.values() if e.generated < cutoff),
                key=lambda e: (e.generated, e.message_id),
            )[:max_count]
            if expired:
                doomed = {event.message_id for event in expired}
                self._log.rewrite(e for e in events.values() if e.message_id not in doomed)
        return len(expired)

    def get_event_types(self) -> list[str]:
        return sorted({event.event_type for event in self._all()})

    def _of_type(self, event_type: str) -> list[Event]:
        found = [event for event in self._all() if event.event_type == event_type]
        return sorted(found, key=lambda e: (e.generated, e.message_id))

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        return trait_types_of(self._of_type(event_type))

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        return traits_of(self._of_type(event_type), trait_type)

    def clear(self) -> None:
        with self._log.locked(exclusive=True):
            self._log.remove()

    def upgrade(self) -> None:
        """Create the directory; the file format has a single version."""
        with self._log.locked(exclusive=True):
            pass
