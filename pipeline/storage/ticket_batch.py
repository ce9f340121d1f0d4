"""A batch of ticket records checked and grouped for storage (drivers write groups).

:func:`check_record` validates one :class:`~pipeline.models.TicketRecord` the
same way for every driver (lengths the SQL schema holds, no NUL or
surrogate in text: :mod:`pipeline.storage.limits`; JSON-safe data of at
most 4 MiB, an occurrence key of at most 255 characters, a positive
count) and returns its
data as JSON text, serialised once; :func:`group_records` makes one
:class:`TicketGroup` per ``(app_id, record_hash)``, sorted by that pair so
that concurrent writers lock rows in the same order, gives a record without
an occurrence key a fresh one and keeps only the first record of each key
(the others are redeliveries inside the batch); :func:`new_only` narrows
groups to the records whose key the store does not hold yet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pipeline.models import TicketRecord
from pipeline.storage.limits import MAX_TICKET_DATA_BYTES, text_problem, utf8_size

#: Longest values the SQL schema stores (checked for every driver alike).
MAX_LENGTHS = {"record_hash": 64, "app_id": 80, "channel": 255, "location": 512, "module": 255}
_HASH_MAX, _APP_MAX, _CHANNEL_MAX, _LOCATION_MAX, _MODULE_MAX = (
    MAX_LENGTHS[name] for name in ("record_hash", "app_id", "channel", "location", "module")
)
#: Longest occurrence key (an AMQP message id is at most 255 bytes).
KEY_MAX = 255
_DUMPS = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
#: The fast path of :func:`check_record`: msgspec writes the same JSON five
#: times faster, but also accepts what ``json`` refuses (a NaN becomes
#: ``null``, a datetime or a set becomes text or a list). Its output read
#: back equals the data only when the data held JSON's own types alone;
#: anything else takes ``json``'s path, which keeps its refusals.
_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
#: For data holding surrogates, which only a \u escape can carry in UTF-8 text.
_DUMPS_ESCAPED = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode


@dataclass(slots=True)
class Written:
    """What a driver's ``_write_tickets`` did: the ticket ids by key, how many
    tickets it created, and how many solved ones it reopened (regressed)."""

    ticket_ids: dict[tuple[str, str], int]
    created: int = 0
    regressed: int = 0


@dataclass(frozen=True, slots=True)
class TicketGroup:
    """The records of one batch that share a ticket, ready for one upsert."""

    app_id: str
    record_hash: str
    level: int
    channel: str
    location: str
    module: str | None
    first_time: dt.datetime
    last_time: dt.datetime
    records: tuple[TicketRecord, ...]
    #: ``records[i].data`` as compact JSON text (serialised once, when checked).
    data_json: tuple[str, ...] = ()
    #: ``records[i]``'s occurrence key (a fresh one for a record that had none).
    keys: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """What this group adds to its ticket's count: its records' counts (1 each,
        but for an imported record standing for several)."""
        return sum(record.count for record in self.records)


def _explain(record: Any) -> None:
    """Raise the TypeError or ValueError that says why ``record`` cannot be stored."""
    if not isinstance(record, TicketRecord):
        raise TypeError(f"expected a TicketRecord, got {type(record).__name__}")
    for name, longest in MAX_LENGTHS.items():
        value = getattr(record, name)
        if value is None and name == "module":
            continue
        if not isinstance(value, str) or (name in ("record_hash", "app_id") and not value):
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if len(value) > longest:
            raise ValueError(f"{name} is longer than {longest} characters")
        problem = text_problem(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}")
    if isinstance(record.level, bool) or not isinstance(record.level, int):
        raise TypeError(f"level must be an integer, got {record.level!r}")
    if not isinstance(record.data, dict):
        raise TypeError(f"data must be a dict, got {type(record.data).__name__}")
    key = record.occurrence_key
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= KEY_MAX):
        raise ValueError(f"occurrence_key must be None or 1 to {KEY_MAX} characters, got {key!r}")
    problem = None if key is None else text_problem(key)
    if problem is not None:
        raise ValueError(f"occurrence_key {problem}")
    if isinstance(record.count, bool) or not isinstance(record.count, int) or record.count < 1:
        raise ValueError(f"count must be a positive integer, got {record.count!r}")


def check_record(record: Any) -> str:
    """The JSON text of ``record.data`` if it can be stored; TypeError or ValueError if not."""
    # One expression for the common, valid case (it runs for every record);
    # _explain finds the reason when it fails.
    valid = (
        type(record) is TicketRecord
        and type(record.record_hash) is str
        and 0 < len(record.record_hash) <= _HASH_MAX
        and type(record.app_id) is str
        and 0 < len(record.app_id) <= _APP_MAX
        and type(record.channel) is str
        and len(record.channel) <= _CHANNEL_MAX
        and type(record.location) is str
        and len(record.location) <= _LOCATION_MAX
        and (
            record.module is None
            or (type(record.module) is str and len(record.module) <= _MODULE_MAX)
        )
        and type(record.level) is int
        and type(record.data) is dict
        and type(record.count) is int
        and record.count >= 1
        and text_problem(record.channel) is None
        and text_problem(record.location) is None
        and (record.module is None or text_problem(record.module) is None)
        and text_problem(record.app_id) is None
        and text_problem(record.record_hash) is None
        and (
            record.occurrence_key is None
            or (
                type(record.occurrence_key) is str
                and 0 < len(record.occurrence_key) <= KEY_MAX
                and text_problem(record.occurrence_key) is None
            )
        )
    )
    if not valid:
        _explain(record)
    data = record.data
    try:
        encoded = _ENCODE(data)
        plain = _DECODE(encoded) == data
    except (TypeError, ValueError, RecursionError):
        plain = False
    if plain:  # the data holds only JSON's own types: msgspec's text is json's
        if len(encoded) > MAX_TICKET_DATA_BYTES:
            _too_large(len(encoded))
        return encoded.decode()
    try:
        text = _DUMPS(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"data is not JSON-safe: {err}") from None
    size = utf8_size(text)
    if size is None:
        # Text of a JSON "\ud800" escape is kept, escaped again: the SQL
        # drivers could not encode it raw, and MongoDB keeps such data as
        # JSON text too. Reading it back gives the same data.
        text = _DUMPS_ESCAPED(record.data)
        size = len(text)
    if size > MAX_TICKET_DATA_BYTES:
        _too_large(size)
    return text


def _too_large(size: int) -> None:
    raise ValueError(
        f"data is {size} bytes of JSON, more than the {MAX_TICKET_DATA_BYTES} "
        "a ticket record may hold"
    )


def _group(
    app_id: str,
    record_hash: str,
    members: Sequence[TicketRecord],
    texts: Sequence[str],
    keys: Sequence[str],
) -> TicketGroup:
    """The group of parallel ``members``, ``texts`` and ``keys``; the earliest record
    describes the ticket."""
    first = min(members, key=_time_of)
    return TicketGroup(
        app_id,
        record_hash,
        first.level,
        first.channel,
        first.location,
        "<unknown>" if first.module is None else first.module,
        first.time,
        max(map(_time_of, members)),
        tuple(members),
        tuple(texts),
        tuple(keys),
    )


def _time_of(record: TicketRecord) -> dt.datetime:
    return record.time


def group_records(
    records: Sequence[TicketRecord], data_json: Sequence[str] | None = None
) -> list[TicketGroup]:
    """One group per ``(app_id, record_hash)``, sorted by that pair.

    ``data_json`` (parallel to ``records``) is the JSON text of each data.
    A record without an occurrence key gets a fresh one (128 random bits);
    of records sharing a key only the first is kept.
    """
    texts = data_json if data_json is not None else [_DUMPS(r.data) for r in records]
    by_key: dict[tuple[str, str], tuple[list[TicketRecord], list[str], list[str]]] = {}
    seen: set[str] = set()
    for record, text in zip(records, texts, strict=True):
        key = record.occurrence_key
        if key is None:
            key = os.urandom(16).hex()  # cheaper than uuid4, as unique; never in ``seen``
        elif key in seen:
            continue  # redelivered within the batch
        else:
            seen.add(key)
        found = by_key.get((record.app_id, record.record_hash))
        if found is None:
            found = by_key[(record.app_id, record.record_hash)] = ([], [], [])
        found[0].append(record)
        found[1].append(text)
        found[2].append(key)
    return [
        _group(app_id, record_hash, *members)
        for (app_id, record_hash), members in sorted(by_key.items())
    ]


def given_keys(groups: Sequence[TicketGroup]) -> list[str]:
    """The occurrence keys the records of ``groups`` came with (fresh ones cannot be stored)."""
    return [
        key
        for group in groups
        for record, key in zip(group.records, group.keys, strict=True)
        if record.occurrence_key is not None
    ]


def new_only(groups: Sequence[TicketGroup], stored: Container[str]) -> list[TicketGroup]:
    """``groups`` narrowed to the records whose key is not in ``stored``.

    A group left without records is dropped; one that lost some is rebuilt
    (first/last time and description from its remaining records).
    """
    narrowed = []
    for group in groups:
        kept = [i for i, key in enumerate(group.keys) if key not in stored]
        if len(kept) == len(group.records):
            narrowed.append(group)
        elif kept:
            narrowed.append(
                _group(
                    group.app_id,
                    group.record_hash,
                    [group.records[i] for i in kept],
                    [group.data_json[i] for i in kept],
                    [group.keys[i] for i in kept],
                )
            )
    return narrowed
