"""Writing a batch into the PostgreSQL layout: one row per event, one binary COPY.

Per batch, inside the caller's transaction, whatever its size:

1. ``event_state`` read ``FOR SHARE`` (:mod:`.state`), and the event type
   ids: one SELECT, plus an INSERT and a SELECT for new names
   (:func:`..writer.event_type_ids`);
2. while a migration still copies the previous layout's events, one lookup
   of the batch's message ids there: those are duplicates;
3. one claim of the others' message ids in ``event_message``
   (:mod:`.messages`): the ids it does not return are duplicates, exactly,
   also against a concurrent writer of the same ids;
4. one binary COPY of the new events into ``event`` (PostgreSQL routes each
   row to its partition; :mod:`.partitions` made sure they exist); a batch
   retried event by event (the driver does so when the database refuses a
   row) inserts each with one ``INSERT``;
5. the catalogue rows of the batch this process does not know to be stored
   (:mod:`.catalogue`), usually none.

Rows go in message id order, so concurrent writers of overlapping batches
meet in the unique indexes in the same order and cannot deadlock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from pipeline.models import Event
from pipeline.storage.base import RecordResult
from pipeline.storage.impl_sqlalchemy import writer
from pipeline.storage.impl_sqlalchemy.pg_events import catalogue, messages, state
from pipeline.storage.impl_sqlalchemy.pg_events.documents import (
    DTYPES,
    JSONB_VERSION,
    document,
    encode,
)
from pipeline.storage.impl_sqlalchemy.pg_events.schema import TYPE_ROW

_COPY = "COPY event (message_id, generated, event_type_id, traits, raw) FROM STDIN (FORMAT BINARY)"
#: jsonb goes as its binary form made here (:mod:`.documents`), sent as is.
_COPY_TYPES = ["varchar", "timestamp", "int4", "bytea", "text"]
#: One event (the driver retrying a batch event by event): skip it if stored meanwhile.
_INSERT_ONE = sa.text(
    "INSERT INTO event (message_id, generated, event_type_id, traits, raw) "
    "VALUES (:message_id, :generated, :event_type_id, CAST(:traits AS jsonb), :raw) "
    "ON CONFLICT (generated, message_id) DO NOTHING"
)
_IN_PREVIOUS_TABLES = sa.text(
    "SELECT message_id FROM pipeline_legacy.event WHERE message_id = ANY(CAST(:ids AS text[]))"
)


class PartitionMissing(Exception):
    """A row found no partition: one was dropped since this process last looked.

    Not a database error on purpose: the driver must not take it for a bad
    event (and write the batch event by event) but look again and retry.
    """


@contextlib.contextmanager
def _routing_errors() -> Iterator[None]:
    """Turn PostgreSQL's "no partition of relation ... found for row" into PartitionMissing."""
    try:
        yield
    except exc.DBAPIError as err:
        if "no partition of relation" in str(err.orig):
            raise PartitionMissing(str(err.orig)) from err
        raise


class _Rows:
    """The COPY rows of a batch, made while COPY sends them; collects its catalogue rows."""

    def __init__(self, new: list[tuple[Event, str | None]], type_ids: dict[str, int]) -> None:
        self.new = new
        self.type_ids = type_ids
        self.catalogue: catalogue.Rows = {}

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        seen = self.catalogue
        for item, raw in self.new:
            type_id = self.type_ids[item.event_type]
            generated = item.generated.replace(tzinfo=None)  # aware UTC in events
            period = generated.replace(hour=0, minute=0, second=0, microsecond=0)
            doc = document(item.traits)
            for key, part in doc.items():
                names = seen.get((period, type_id, DTYPES[key]))
                if names is None:
                    seen[(period, type_id, DTYPES[key])] = set(part)
                else:
                    names.update(part)
            seen.setdefault((period, type_id, TYPE_ROW), {""})
            yield item.message_id, generated, type_id, JSONB_VERSION + encode(doc), raw


def _copy_events(conn: sa.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Binary COPY of ``rows`` (message_id, generated, type id, jsonb bytes, raw), streamed."""
    with _routing_errors():
        writer.binary_copy(conn, _COPY, _COPY_TYPES, rows)


def _insert_one(conn: sa.Connection, rows: _Rows) -> bool:
    """Insert the one event of ``rows`` unless stored meanwhile; whether it was inserted."""
    message_id, generated, type_id, traits, raw = next(iter(rows))
    params = {
        "message_id": message_id,
        "generated": generated,
        "event_type_id": type_id,
        "traits": traits[len(JSONB_VERSION) :].decode(),
        "raw": raw,
    }
    with _routing_errors():
        return bool(conn.execute(_INSERT_ONE, params).rowcount)


def _accepted(events: Sequence[Event], result: RecordResult) -> list[tuple[Event, str | None]]:
    """(event, raw JSON) of the events whose raw serialises, in message id order."""
    accepted = []
    for item in sorted(events, key=lambda candidate: candidate.message_id):
        reason, raw = writer._raw_json(item)
        if reason is not None:
            result.failed[item.message_id] = reason
        else:
            accepted.append((item, raw))
    return accepted


def write_batch(
    conn: sa.Connection, events: Sequence[Event], known: catalogue.Known, legacy: bool = False
) -> RecordResult:
    """Store ``events`` (valid, batch-unique) in ``conn``'s open transaction.

    ``known``: the catalogue rows this process knows are stored.
    ``legacy``: the previous layout's tables still hold events (a migration
    is copying them), so look for duplicates there too.
    """
    result = RecordResult()
    accepted = _accepted(events, result)
    if not accepted:
        return result
    seen = state.read(conn)
    known.begin(seen.epoch)
    type_ids = writer.event_type_ids(conn, {item.event_type for item, _ in accepted})
    duplicates = _duplicates(conn, accepted, seen, legacy)
    rows = _Rows([pair for pair in accepted if pair[0].message_id not in duplicates], type_ids)
    if len(rows.new) == 1 and not _insert_one(conn, rows):
        duplicates.add(rows.new[0][0].message_id)
        rows.new = []
    elif len(rows.new) > 1:
        _copy_events(conn, rows)
    if rows.new:
        known.record(conn, rows.catalogue)
    result.duplicates.extend(
        item.message_id for item, _ in accepted if item.message_id in duplicates
    )
    result.stored.extend(item.message_id for item, _ in rows.new)
    return result


def _duplicates(
    conn: sa.Connection,
    accepted: list[tuple[Event, str | None]],
    seen: state.State,
    legacy: bool,
) -> set[str]:
    """Message ids of ``accepted`` stored already; claims the others (steps 2 and 3)."""
    ids = [item.message_id for item, _ in accepted]
    found: set[str] = set()
    if legacy:
        found.update(conn.execute(_IN_PREVIOUS_TABLES, {"ids": ids}).scalars())
    generated = {
        item.message_id: item.generated.replace(tzinfo=None)
        for item, _ in accepted
        if item.message_id not in found
    }
    if generated:
        found.update(set(generated) - messages.claim(conn, generated, seen.horizon))
    return found
