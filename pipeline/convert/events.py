"""Notification dicts → :class:`~pipeline.models.Event`, by event definitions.

:class:`EventConverter` is pure: settings are constructor arguments, and
converting touches no file, clock or global. Build a new one (e.g. with
:meth:`EventConverter.from_file` on SIGHUP) to reload definitions; the old
one stays valid for messages already in flight.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

from pipeline.convert import marked_yaml
from pipeline.convert.definitions import EventDefinition, compile_definitions
from pipeline.exceptions import ConversionError, DefinitionError
from pipeline.models import UTC, Event, parse_datetime

LOG = logging.getLogger(__name__)

#: The definitions shipped in the package (etc/pipeline/event_definitions.yaml is a copy).
PACKAGED_DEFINITIONS = "data/event_definitions.yaml"

# Distinct event types remembered by the match cache; beyond it (only a
# misbehaving publisher sends that many) types are matched every time.
_CACHE_LIMIT = 4096


class EventConverter:
    """Turns decoded notifications into events according to definitions.

    ``definitions`` is the parsed definitions list (see
    :mod:`pipeline.convert.definitions`); it is validated and compiled here,
    raising :class:`~pipeline.exceptions.DefinitionError`. With
    ``drop_unmatched`` a notification that no definition matches gives no
    event; otherwise it gives an event with the default traits only.
    ``store_raw`` lists the priorities (``info``, ``error``, ...) whose whole
    notification is kept in :attr:`Event.raw` (JSON-safe: the timestamp is
    written back as ISO 8601 text).
    """

    def __init__(
        self,
        definitions: Sequence[Any],
        *,
        drop_unmatched: bool = False,
        store_raw: Iterable[str] = (),
    ) -> None:
        # Reversed once so that the first hit is the last matching definition.
        self._definitions = tuple(reversed(compile_definitions(definitions)))
        self._fallback = None if drop_unmatched else EventDefinition(["*"], {})
        self.drop_unmatched = drop_unmatched
        self.store_raw = frozenset(priority.lower() for priority in store_raw)
        self._by_type: dict[str, EventDefinition | None] = {}

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        drop_unmatched: bool = False,
        store_raw: Iterable[str] = (),
    ) -> EventConverter:
        """Load definitions from a YAML file (None: the packaged definitions).

        Unreadable files, YAML errors and invalid definitions raise
        :class:`~pipeline.exceptions.DefinitionError` with file, line and
        column.
        """
        if path is None:
            resource = importlib.resources.files("pipeline").joinpath(PACKAGED_DEFINITIONS)
            text, name = resource.read_text(encoding="utf-8"), f"pipeline/{PACKAGED_DEFINITIONS}"
        else:
            name = os.fspath(path)
            try:
                with open(name, encoding="utf-8") as stream:
                    text = stream.read()
            except (OSError, UnicodeDecodeError) as err:
                raise DefinitionError(f"{name}: cannot read event definitions: {err}") from None
        config = marked_yaml.load(text, name)
        if config is None:
            raise DefinitionError(f"{name}: no definitions (write [] for none)")
        return cls(config, drop_unmatched=drop_unmatched, store_raw=store_raw)

    def definition_for(self, event_type: str) -> EventDefinition | None:
        """The definition applying to ``event_type`` (None: none matches)."""
        try:
            return self._by_type[event_type]
        except KeyError:
            pass
        found = next((d for d in self._definitions if d.matches(event_type)), None)
        if len(self._by_type) < _CACHE_LIMIT:
            self._by_type[event_type] = found
        return found

    def to_event(self, notification: dict[str, Any]) -> Event | None:
        """The event for a notification from :func:`decode_notification`.

        Returns None when the notification matches no definition and
        unmatched ones are dropped. Raises
        :class:`~pipeline.exceptions.ConversionError` when the dict lacks a
        text ``message_id``/``event_type`` or a valid ``timestamp``. Trait
        values that cannot be converted are left out, not raised.
        """
        if not isinstance(notification, dict):
            raise ConversionError(f"a notification is a dict, not {type(notification).__name__}")
        message_id = notification.get("message_id")
        event_type = notification.get("event_type")
        if not (isinstance(message_id, str) and message_id and isinstance(event_type, str)):
            raise ConversionError("notification needs text message_id and event_type")
        generated = _generated(notification.get("timestamp"))
        definition = self.definition_for(event_type)
        if definition is None:
            definition = self._fallback
            if definition is None:
                LOG.debug("dropping unmatched notification %s (%s)", message_id, event_type)
                return None
        priority = notification.get("priority")
        raw = None
        if self.store_raw and isinstance(priority, str) and priority.lower() in self.store_raw:
            raw = dict(notification, timestamp=generated.isoformat())
        return Event(message_id, event_type, generated, definition.to_traits(notification), raw)


def _generated(value: Any) -> dt.datetime:
    if value.__class__ is dt.datetime and value.tzinfo is UTC:
        return value  # what decode_notification gives: nothing to check
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError):
        raise ConversionError(f"bad notification timestamp {value!r:.80}") from None
