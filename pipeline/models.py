"""The records pipeline stores: events with typed traits, tickets with occurrences.

Every datetime in these models is timezone-aware UTC: aware inputs are
converted, naive inputs are taken as UTC (:func:`to_utc`). Storage drivers
return the same shape they were given, so a value read back compares equal to
the value written.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

UTC = dt.UTC
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime (naive means UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_datetime(value: Any) -> dt.datetime:
    """Parse an ISO 8601 string (or pass a datetime) into aware UTC.

    Accepts ``2026-11-23T10:00:00Z``, ``2026-11-23 10:00:00.123456`` and
    offsets. Raises ValueError for anything else.
    """
    if isinstance(value, dt.datetime):
        return to_utc(value)
    if not isinstance(value, str):
        # ValueError, not TypeError: callers treat any unconvertible value alike.
        raise ValueError(f"not a datetime: {value!r}")  # noqa: TRY004
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return to_utc(dt.datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"not an ISO 8601 datetime: {value!r}") from None


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"not an integer: {value!r}")
        result = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise ValueError(f"not an integer: {value!r}") from None
            if not as_float.is_integer():
                raise ValueError(f"not an integer: {value!r}") from None
            result = int(as_float)
    elif isinstance(value, int):
        result = value
    else:
        raise ValueError(f"not an integer: {value!r}")  # noqa: TRY004 - see parse_datetime
    if not INT64_MIN <= result <= INT64_MAX:
        raise ValueError(f"integer out of 64-bit range: {value!r}")
    return result


def _to_float(value: Any) -> float:
    if isinstance(value, (dict, list, tuple, set)) or value is None:
        raise ValueError(f"not a float: {value!r}")
    return float(value)


def _to_text(value: Any) -> str:
    if value is None:
        raise ValueError("text trait value is None")
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True, slots=True, init=False)
class Trait:
    """A typed name/value pair attached to an event.

    ``dtype`` is one of the ``*_TYPE`` constants; ``value`` is a Python
    ``str``, ``int``, ``float`` or aware UTC ``datetime`` matching it.
    """

    name: str
    dtype: int
    value: Any

    def __init__(self, name: str, dtype: int, value: Any) -> None:
        # Through the slots' own setters: a frozen dataclass's generated
        # __init__ goes through object.__setattr__ by name, twice as slow,
        # and events carry some 15 traits each (converter, importers).
        _SET_TRAIT_NAME(self, name)
        _SET_TRAIT_DTYPE(self, dtype)
        _SET_TRAIT_VALUE(self, value)

    NONE_TYPE: ClassVar[int] = 0
    TEXT_TYPE: ClassVar[int] = 1
    INT_TYPE: ClassVar[int] = 2
    FLOAT_TYPE: ClassVar[int] = 3
    DATETIME_TYPE: ClassVar[int] = 4

    #: API names (Panko v2, EventFilter keys) by dtype.
    API_TYPE_NAMES: ClassVar[dict[int, str]] = {
        0: "none",
        1: "string",
        2: "integer",
        3: "float",
        4: "datetime",
    }
    #: Names used in event definition files by dtype.
    DEFINITION_TYPE_NAMES: ClassVar[dict[int, str]] = {
        0: "none",
        1: "text",
        2: "int",
        3: "float",
        4: "datetime",
    }

    @classmethod
    def get_type_names(cls) -> list[str]:
        """The API type names, in dtype order (Panko's contract)."""
        return [cls.API_TYPE_NAMES[i] for i in range(5)]

    @classmethod
    def get_type_by_name(cls, type_name: str) -> int | None:
        """dtype for an API or definition type name; None if unknown."""
        return _TYPE_BY_NAME.get(type_name)

    @classmethod
    def get_name_by_type(cls, type_id: int) -> str:
        """API type name for a dtype (``none`` for unknown ids, as Panko)."""
        return cls.API_TYPE_NAMES.get(type_id, "none")

    @classmethod
    def convert_value(cls, trait_type: int, value: Any) -> Any:
        """Convert ``value`` to the Python type of ``trait_type``.

        Raises ValueError when the value cannot be represented (including
        integers beyond 64 bits and unknown type ids).
        """
        converter = _CONVERTERS.get(trait_type)
        if converter is None:
            raise ValueError(f"unknown trait type {trait_type!r}")
        try:
            return converter(value)
        except (TypeError, OverflowError) as err:
            raise ValueError(str(err)) from None

    @classmethod
    def checked(cls, name: str, dtype: int, value: Any) -> Trait:
        """Build a trait whose value is converted to its dtype."""
        return cls(name, dtype, cls.convert_value(dtype, value))


# The slot descriptors' setters, which Trait.__init__ calls.
_SET_TRAIT_NAME = vars(Trait)["name"].__set__
_SET_TRAIT_DTYPE = vars(Trait)["dtype"].__set__
_SET_TRAIT_VALUE = vars(Trait)["value"].__set__

_TYPE_BY_NAME: dict[str, int] = {
    **{name: dtype for dtype, name in Trait.API_TYPE_NAMES.items()},
    **{name: dtype for dtype, name in Trait.DEFINITION_TYPE_NAMES.items()},
}

_CONVERTERS: dict[int, Any] = {
    Trait.TEXT_TYPE: _to_text,
    Trait.INT_TYPE: _to_int,
    Trait.FLOAT_TYPE: _to_float,
    Trait.DATETIME_TYPE: parse_datetime,
}


@dataclass(frozen=True, slots=True, init=False)
class Event:
    """One notification turned into a record.

    ``message_id`` is unique across the store; ``generated`` is aware UTC;
    ``raw`` is the whole notification when kept, else ``None``.
    """

    message_id: str
    event_type: str
    generated: dt.datetime
    traits: tuple[Trait, ...] = ()
    raw: dict[str, Any] | None = None

    def __init__(
        self,
        message_id: str,
        event_type: str,
        generated: dt.datetime,
        traits: Iterable[Trait] = (),
        raw: dict[str, Any] | None = None,
    ) -> None:
        # The slots' own setters, as in Trait.__init__.
        _SET_EVENT_MESSAGE_ID(self, message_id)
        _SET_EVENT_TYPE(self, event_type)
        _SET_EVENT_GENERATED(self, to_utc(generated))
        _SET_EVENT_TRAITS(self, traits if isinstance(traits, tuple) else tuple(traits))
        _SET_EVENT_RAW(self, raw)

    def trait(self, name: str) -> Trait | None:
        """The trait called ``name``, or None."""
        for trait in self.traits:
            if trait.name == name:
                return trait
        return None


_SET_EVENT_MESSAGE_ID = vars(Event)["message_id"].__set__
_SET_EVENT_TYPE = vars(Event)["event_type"].__set__
_SET_EVENT_GENERATED = vars(Event)["generated"].__set__
_SET_EVENT_TRAITS = vars(Event)["traits"].__set__
_SET_EVENT_RAW = vars(Event)["raw"].__set__


class TicketStatus(enum.Enum):
    """Where a ticket stands: never solved, solved, or fired again after."""

    OPEN = "open"
    SOLVED = "solved"
    REGRESSED = "regressed"


@dataclass(frozen=True, slots=True)
class Ticket:
    """A group of log records that share one grouping key per application."""

    ticket_id: int
    record_hash: str
    level: int
    channel: str
    location: str
    module: str | None
    app_id: str
    first_occurrence_time: dt.datetime
    last_occurrence_time: dt.datetime
    occurrence_count: int
    solved: bool
    status: TicketStatus = TicketStatus.OPEN


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One log record of a ticket: when, and the record as JSON-safe data."""

    occurrence_id: int
    ticket_id: int
    time: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)
    app_id: str = "generic"


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One log record ready to be stored as an occurrence of a ticket.

    Built by :func:`pipeline.convert.tickets.ticket_record`. ``record_hash``
    is the grouping key as hex text, unique per ``app_id``; ``time`` is aware
    UTC; ``level`` uses logbook's numbers (ERROR is 14); ``data`` is the
    whole record as a JSON-safe dict, stored with the occurrence. ``level``,
    ``channel``, ``location`` and ``module`` describe the ticket when this
    record creates it.

    ``occurrence_key`` is the identity of this occurrence (at most 255
    characters): a record stored again under a key already stored is a
    redelivery and changes nothing (see :mod:`pipeline.storage.tickets`).
    The consumer sets it from the delivered message
    (:func:`pipeline.consume.identity.occurrence_key`); ``None`` means the
    record has no identity of its own and storage files it under a fresh
    one, so every call stores it anew.

    ``count`` is how many log records this occurrence stands for, added to
    its ticket's count when it is stored (only then: a redelivery adds
    nothing). It is 1 but where an importer folds records that its source
    counted but no longer holds into one occurrence it kept
    (:mod:`pipeline.importers.logbook`).
    """

    record_hash: str
    app_id: str
    time: dt.datetime
    level: int
    channel: str
    location: str
    module: str | None
    data: dict[str, Any] = field(default_factory=dict)
    occurrence_key: str | None = None
    count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", to_utc(self.time))


@dataclass
class TicketResult:
    """What one ``record_tickets`` call did.

    ``stored`` counts the records accepted, a redelivered one (whose
    occurrence was stored before, and is not stored again) included;
    ``ticket_ids`` maps each ``(app_id, record_hash)`` written to its ticket
    id; ``failed`` maps the position of a rejected record in the batch to
    the reason. Every record given is either stored or failed.

    ``created`` counts the tickets this call created and ``regressed`` the
    solved tickets it reopened (status ``regressed``). Both are exact with
    concurrent writers: each creation and each reopening is counted by the
    one call that made it. A redelivered record creates and reopens nothing.
    """

    stored: int = 0
    ticket_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    created: int = 0
    regressed: int = 0
