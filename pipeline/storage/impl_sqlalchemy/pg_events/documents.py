"""An event's traits as one typed JSON document (the ``event.traits`` jsonb column).

The document holds one object per trait type, keyed by trait name::

    {"text": {"host": "c-01"}, "int": {"memory_mb": 4096},
     "float": {"ratio": 0.5}, "datetime": {"launched_at": "2026-11-24T07:00:00.000000"}}

A type without traits is left out; an event without traits stores ``{}``.
Keeping the types apart is what makes comparisons typed: a filter on an
integer trait looks only under ``int``, so ``"4096"`` (text) never equals
``4096`` (integer), exactly as the trait tables kept them apart before.

How each value is written, and why comparisons stay exact:

* text as JSON strings; ``->>`` gives them back unchanged, and the reads
  compare them ``COLLATE "C"`` (by code point);
* integers as JSON numbers; jsonb keeps any number exactly (``numeric``),
  so 64-bit values survive and cast back to ``bigint`` unchanged;
* floats as their shortest round-trip decimal (Python's ``repr``, which
  msgspec writes too): the decimal casts back to the same double, and equal
  doubles have equal decimals, so containment (``@>``) is float equality;
* datetimes as naive UTC text of fixed width with microseconds
  (:func:`datetime_text`), so text order is time order and equality is
  exact to the microsecond.

The writer sends the document in jsonb's binary COPY form: a version byte
(:data:`JSONB_VERSION`) followed by the JSON text (:data:`encode`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from pipeline.models import UTC, Trait, to_utc

#: Key of each trait type's object in the document.
TYPE_KEYS: dict[int, str] = {
    Trait.TEXT_TYPE: "text",
    Trait.INT_TYPE: "int",
    Trait.FLOAT_TYPE: "float",
    Trait.DATETIME_TYPE: "datetime",
}
#: Trait type of each key of the document.
DTYPES = {key: dtype for dtype, key in TYPE_KEYS.items()}
#: jsonb's binary wire format: this version byte, then the JSON text.
JSONB_VERSION = b"\x01"

#: JSON text (bytes) of a document.
encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, dict[str, Any]]).decode


def datetime_text(value: dt.datetime) -> str:
    """``value`` as stored in a document: naive UTC, ``YYYY-MM-DDTHH:MM:SS.ffffff``."""
    naive = to_utc(value).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds")


def json_value(dtype: int, value: Any) -> Any:
    """``value`` (already of ``dtype``'s Python type) as the document holds it."""
    return datetime_text(value) if dtype == Trait.DATETIME_TYPE else value


def document(traits: Iterable[Trait]) -> dict[str, dict[str, Any]]:
    """The document of ``traits`` (checked, unique names)."""
    parts: tuple[dict[str, Any], ...] = ({}, {}, {}, {}, {})  # by dtype, 1 to 4
    for trait in traits:
        parts[trait.dtype][trait.name] = trait.value
    datetimes = parts[Trait.DATETIME_TYPE]
    for name, value in datetimes.items():
        datetimes[name] = datetime_text(value)
    return {key: parts[dtype] for dtype, key in TYPE_KEYS.items() if parts[dtype]}


def _datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


_FROM_JSON: dict[int, Callable[[Any], Any]] = {
    Trait.TEXT_TYPE: str,
    Trait.INT_TYPE: int,
    Trait.FLOAT_TYPE: float,  # a float with an integral value may come back as 4 or 4.0
    Trait.DATETIME_TYPE: _datetime,
}


def traits_of(text: str | bytes) -> tuple[Trait, ...]:
    """The traits of a document given as JSON text, sorted by name."""
    traits: list[Trait] = []
    for key, values in _decode(text).items():
        dtype = DTYPES[key]
        convert = _FROM_JSON[dtype]
        traits.extend(Trait(name, dtype, convert(value)) for name, value in values.items())
    traits.sort(key=lambda trait: trait.name)
    return tuple(traits)
