"""The storage driver interface: the event algorithm, its primitives, the lifecycle.

A driver subclasses :class:`Connection`, declares its
:attr:`Connection.capabilities` (:mod:`.capabilities`), and implements the
abstract primitives (:data:`EVENT_PRIMITIVES`). The public methods here own
the shared algorithm — validation, de-duplication inside a batch, filter
normalisation, marker resolution — so every driver behaves the same.

A driver that can also store tickets additionally implements the ticket
primitives of :mod:`.tickets` and declares :attr:`Capability.TICKETS`;
callers that need them ask :func:`pipeline.storage.get_connection` to
``require`` it.

The drivers shipped with pipeline are all composed one way::

    class Connection(<Driver>Events, <Driver>Tickets, base.Connection): ...

one class implementing the event primitives, one the ticket primitives,
and the driver's ``Connection`` itself holding only what concerns the whole
store: connecting, ``upgrade``, ``clear``, ``schema_state`` and ``close``.
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import logging
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from oslo_config import cfg

from pipeline.exceptions import InvalidMarker, InvalidQuery
from pipeline.models import INT64_MAX, INT64_MIN, Event, Trait
from pipeline.storage.capabilities import Capability
from pipeline.storage.limits import check_event_text
from pipeline.storage.query import (
    EventFilter,
    EventQuery,
    build_event_query,
    checked_text,
    sort_values,
)
from pipeline.storage.tickets import TicketStore

LOG = logging.getLogger(__name__)


#: The event primitives every driver implements (see :class:`Connection`).
EVENT_PRIMITIVES = (
    "_write_events",
    "_event_generated",
    "_query_events",
    "_delete_events_before",
    "get_event_types",
    "get_trait_types",
    "get_traits",
)


@dataclass(frozen=True)
class SchemaState:
    """Where a store's schema stands against the version this code expects.

    ``current`` is the version the store holds (None: no schema yet, run
    ``pipeline dbsync``), ``expected`` the one this code needs; both are None
    for a driver whose schema has no versions (nothing to migrate).
    """

    current: str | None
    expected: str | None

    @property
    def up_to_date(self) -> bool:
        """True when the store holds exactly the version this code expects."""
        return self.current == self.expected


@dataclass
class RecordResult:
    """What one :meth:`Connection.record_events` call did.

    ``stored`` and ``duplicates`` are message ids; ``failed`` maps a message
    id to the reason it was not stored. Every event given appears in exactly
    one of the three.
    """

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def merge(self, other: RecordResult) -> None:
        """Add ``other``'s outcomes to this one."""
        self.stored.extend(other.stored)
        self.duplicates.extend(other.duplicates)
        self.failed.update(other.failed)


def _checked_event(event: Event) -> Event:
    """Return ``event`` with every trait value converted to its dtype.

    Traits come back sorted by name, the order every driver returns them in.
    Raises ValueError naming the first bad trait (non-finite floats included:
    no SQL database stores them) or the text no driver can store
    (:mod:`pipeline.storage.limits`).
    """
    if not isinstance(event.message_id, str) or not event.message_id:
        raise ValueError(f"message_id must be a non-empty string, got {event.message_id!r}")
    if not isinstance(event.event_type, str) or not event.event_type:
        raise ValueError(f"event_type must be a non-empty string, got {event.event_type!r}")
    checked = _converted(event)
    check_event_text(checked)
    return checked


def _converted(event: Event) -> Event:
    """``event`` with its traits converted and sorted by name (see :func:`_checked_event`)."""
    ordered = sorted(event.traits, key=_BY_NAME)
    if _already_checked(ordered):
        if all(map(operator.is_, ordered, event.traits)):
            return event
        return Event(event.message_id, event.event_type, event.generated, tuple(ordered), event.raw)
    traits = []
    seen: set[str] = set()
    for trait in event.traits:
        if trait.name in seen:
            raise ValueError(f"trait {trait.name!r} appears twice")
        seen.add(trait.name)
        try:
            value = Trait.convert_value(trait.dtype, trait.value)
        except ValueError as err:
            raise ValueError(f"trait {trait.name!r}: {err}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"trait {trait.name!r}: {value!r} is not a finite number")
        traits.append(trait if value is trait.value else Trait(trait.name, trait.dtype, value))
    traits.sort(key=lambda trait: trait.name)
    return Event(event.message_id, event.event_type, event.generated, tuple(traits), event.raw)


_BY_NAME = operator.attrgetter("name")
#: Value classes that ``Trait.convert_value`` returns unchanged, by dtype.
_EXACT_CLASSES = {
    Trait.TEXT_TYPE: str,
    Trait.INT_TYPE: int,
    Trait.FLOAT_TYPE: float,
    Trait.DATETIME_TYPE: dt.datetime,
}


def _already_checked(traits: Sequence[Trait]) -> bool:
    """True when ``traits`` would pass :func:`_checked_event` unchanged.

    That is: names strictly ascending (hence unique), and every value
    already of exactly its dtype's class and in range (64-bit ints, finite
    floats, aware UTC datetimes), so conversion would return it as is.
    ``traits`` must be sorted by name. The converter's events usually
    qualify; checking is far cheaper than converting and rebuilding every
    trait, and anything else takes the full path with its error messages.
    """
    previous = ""
    exact = _EXACT_CLASSES
    for trait in traits:
        name, value = trait.name, trait.value
        if not (previous < name and value.__class__ is exact.get(trait.dtype)):
            return False
        previous = name
        if value.__class__ is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return False
        elif value.__class__ is float:
            if not math.isfinite(value):
                return False
        elif value.__class__ is dt.datetime and value.tzinfo is not dt.UTC:
            return False
    return True


class Connection(TicketStore, abc.ABC):
    """Base class of every storage driver.

    Constructed with the storage URL and the ConfigOpts (which may be None
    for library use). The ticket operations come from
    :class:`~pipeline.storage.tickets.TicketStore`. Drivers raise the exceptions of
    :mod:`pipeline.exceptions`, never their client library's.

    Every driver accepts and refuses the same values, checked here before a
    driver sees them (:meth:`record_events`). Text holding NUL (U+0000) is
    refused everywhere, trait values included: PostgreSQL cannot store it,
    and a value one database keeps and another refuses would make the
    drivers disagree. JSON data (``raw``, ticket data) keeps NUL and
    surrogates, which JSON text escapes.
    """

    #: Capabilities this driver implements.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: True when :meth:`clear_expired_data` without ``max_count`` keeps each
    #: of its transactions short by itself (PostgreSQL drops whole time
    #: partitions), so ``pipeline expire`` need not cut it into batches.
    expires_in_bounded_steps: ClassVar[bool] = False

    def __init__(self, url: str, conf: cfg.ConfigOpts | None = None) -> None:
        self.url = url
        self.conf = conf

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Drivers implement these two under Panko's names; their text
        # arguments are checked here, as get_events' filters are.
        for name in ("get_trait_types", "get_traits"):
            method = getattr(cls, name)  # maybe from a mixin beside this class
            if not getattr(method, "__isabstractmethod__", False) and not hasattr(method, _CHECKED):
                setattr(cls, name, _checking_names(method))

    # -- events: public API (the algorithm) -------------------------------

    def record_events(self, events: Iterable[Event]) -> RecordResult:
        """Store a batch of events, skipping those already stored.

        A message id already stored, or repeated within the batch, is
        counted as a duplicate; an event with an invalid trait is reported in
        ``failed`` and does not stop the others.

        Accepted on every driver (:mod:`pipeline.storage.limits`): message
        ids, event types and trait names of 1-255 characters (trait names
        may be empty); no NUL or surrogate code point (U+D800-U+DFFF, what a
        JSON ``"\ud800"`` escape decodes to) in them or in text values; at
        most 4 MiB of UTF-8 text per event; 64-bit integers and finite
        floats. Anything else fails that event alone, with the same reason
        on every driver. ``raw`` is stored as given unless it exceeds the
        database's own size limit (MongoDB's 16 MiB document, MySQL's
        ``max_allowed_packet``), which also fails that event alone.
        """
        result = RecordResult()
        valid: list[Event] = []
        seen: set[str] = set()
        for event in events:
            try:
                checked = _checked_event(event)
            except ValueError as err:
                result.failed[str(event.message_id)] = str(err)
                continue
            if checked.message_id in seen:
                result.duplicates.append(checked.message_id)
                continue
            seen.add(checked.message_id)
            valid.append(checked)
        if valid:
            result.merge(self._write_events(valid))
        return result

    def get_events(
        self, event_filter: EventFilter | None, pagination: Mapping[str, Any] | None = None
    ) -> list[Event]:
        """Events matching ``event_filter``, sorted and paginated.

        ``pagination`` is ``{'limit': int, 'marker': message_id,
        'sort': [(key, 'asc'|'desc'), ...]}`` with keys ``generated`` and
        ``message_id``. An unknown marker raises :class:`InvalidMarker`.
        """
        query = build_event_query(event_filter, pagination)
        marker = (pagination or {}).get("marker")
        if marker is not None:
            if not isinstance(marker, str):
                raise InvalidQuery(f"marker must be a message id, got {marker!r}")
            checked_text(marker, "marker")
            generated = self._event_generated(marker)
            if generated is None:
                raise InvalidMarker(f"marker {marker!r} names no stored event")
            query = query.with_after(sort_values(query, generated, marker))
        return self._query_events(query)

    def clear_expired_data(self, ttl: int, max_count: int | None = None) -> int:
        """Delete events generated more than ``ttl`` seconds ago.

        Deletes at most ``max_count`` events (all when None), oldest first,
        removes event types left without events, and returns how many events
        were deleted.
        """
        if ttl <= 0:
            return 0
        if max_count is not None and max_count < 1:
            raise InvalidQuery(f"max_count must be positive, got {max_count!r}")
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ttl)
        deleted = self._delete_events_before(cutoff, max_count)
        LOG.debug("deleted %d events generated before %s", deleted, cutoff)
        return deleted

    @staticmethod
    def dress_url(url: str) -> str:
        """The URL with its password masked, safe for logs."""
        return dress_url(url)

    # -- events: primitives each driver implements ------------------------

    @abc.abstractmethod
    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        """Insert valid, batch-unique events; report ids already stored as duplicates.

        Must use as few round trips as the database allows, and must not let
        one failing event stop the others (report it in ``failed``).
        Unreachable storage raises :class:`StorageUnavailable`.
        """

    @abc.abstractmethod
    def _event_generated(self, message_id: str) -> dt.datetime | None:
        """``generated`` of the stored event ``message_id``, or None."""

    @abc.abstractmethod
    def _query_events(self, query: EventQuery) -> list[Event]:
        """Events matching ``query`` (see :mod:`pipeline.storage.query`)."""

    @abc.abstractmethod
    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Delete up to ``max_count`` oldest events with generated < cutoff."""

    @abc.abstractmethod
    def get_event_types(self) -> list[str]:
        """All event types that have events, sorted."""

    @abc.abstractmethod
    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        """``{'name': trait name, 'data_type': dtype}`` items of an event type, sorted."""

    @abc.abstractmethod
    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        """All traits of events of ``event_type`` (only ``trait_type`` if given)."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Delete everything this driver stored."""

    @abc.abstractmethod
    def upgrade(self) -> None:
        """Create or migrate the schema to the current version (idempotent)."""

    def schema_state(self) -> SchemaState:
        """The schema version the store holds and the one this code expects.

        Always asks the store, so it doubles as a health check: raises
        :class:`~pipeline.exceptions.StorageUnavailable` when the store does
        not answer. This default, for drivers without schema versions, makes
        one cheap read and reports no versions.
        """
        self.get_event_types()
        return SchemaState(None, None)

    def close(self) -> None:
        """Release connections; the object must not be used afterwards."""


def _checking_names(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` refusing an event type or trait name no driver stores with InvalidQuery."""

    @functools.wraps(method)
    def checked(self: Connection, event_type: str, *args: Any, **kwargs: Any) -> Any:
        checked_text(event_type, "event_type")
        for name in (*args, *kwargs.values()):
            checked_text(name, "trait name")
        return method(self, event_type, *args, **kwargs)

    setattr(checked, _CHECKED, True)
    return checked


_CHECKED = "_pipeline_checks_text"


_CREDENTIALS = re.compile(r"(?P<scheme>^[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@]*):[^@/]*@")


def dress_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``****``.

    Works for multi-host URLs (``mongodb://u:p@h1,h2/db``) too.
    """
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:****@", url, count=1)
