"""Events in MongoDB: the document layout, writes, queries and expiry.

One document per event in the ``events`` collection::

    {_id: <message_id>, event_type: <str>,
     generated: <BSON date>, generated_us: <int64>,
     traits: [{name: <str>, dtype: <int>, value: <typed>}, ...],
     raw: <sub-document> | null  (or raw_json: <str>, see below)}

Why this layout:

* ``_id`` is the message id, so the server's own unique ``_id`` index makes
  writes idempotent: a redelivered event is a duplicate-key error (code
  11000), reported as a duplicate, never a second copy.
* BSON dates hold milliseconds but events carry microseconds. ``generated``
  (a real date, for people reading the collection and for the optional TTL
  index) is therefore paired with ``generated_us``, the exact number of
  microseconds since the Unix epoch. Every bound, sort and marker uses
  ``generated_us``, so inclusive bounds and keyset pagination are exact; the
  event read back is rebuilt from it and compares equal to the one written.
* Traits are a list of ``{name, dtype, value}`` so one multikey index on
  (name, value) serves every trait condition, written as one ``$elemMatch``
  on name, dtype and value: a condition matches only a trait with that name
  *and* type, as the query semantics demand (a per-name field layout would
  need one index per trait name). ``dtype`` is left out of the index: it
  barely narrows a name's entries (BSON already keeps strings apart from
  numbers) and a third key per trait made every insert several times
  slower on the test server. Values keep their BSON type: text
  as a string, integers as int32/int64 (the model limits them to 64 bits),
  floats as doubles, and datetimes as int64 microseconds since the epoch
  (exact, and ordered like the datetimes; ``dtype`` says how to read it back).
* ``raw`` is a sub-document, so it can be queried on the server; a raw
  notification that is JSON but not BSON (an integer beyond 64 bits) is kept
  as JSON text in ``raw_json`` instead of failing the event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import bson
import pymongo
from bson.raw_bson import RawBSONDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from pipeline.exceptions import InvalidQuery, StorageUnavailable
from pipeline.models import UTC, Event, Trait
from pipeline.storage.base import RecordResult
from pipeline.storage.impl_mongodb.errors import DUPLICATE_KEY, translated
from pipeline.storage.query import EventQuery, TraitCondition

COLLECTION = "events"
TTL_INDEX = "generated_ttl"
#: Largest document MongoDB stores (16 MiB); checked before sending so one
#: oversized event fails alone instead of aborting the batch client-side.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_UNENCODABLE = (bson.errors.BSONError, OverflowError, ValueError, TypeError)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_OPERATORS = {"eq": "$eq", "ne": "$ne", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_FIELDS = {"generated": "generated_us", "message_id": "_id"}
_DIRECTIONS = {"asc": pymongo.ASCENDING, "desc": pymongo.DESCENDING}
_INDEXES: dict[str, list[tuple[str, int]]] = {
    "event_type_generated": [("event_type", 1), ("generated_us", 1), ("_id", 1)],
    "generated_message_id": [("generated_us", 1), ("_id", 1)],
    "trait_name_value": [("traits.name", 1), ("traits.value", 1)],
}


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime, exactly."""
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> dt.datetime:
    """The aware UTC datetime ``value`` microseconds after the Unix epoch."""
    return _EPOCH + dt.timedelta(microseconds=value)


def _stored_value(dtype: int, value: Any) -> Any:
    return to_micros(value) if dtype == Trait.DATETIME_TYPE else value


def _trait(item: Mapping[str, Any]) -> Trait:
    dtype, value = item["dtype"], item["value"]
    if dtype == Trait.DATETIME_TYPE:
        value = from_micros(value)
    elif dtype == Trait.INT_TYPE:
        value = int(value)  # a plain int, not bson.Int64
    return Trait(item["name"], dtype, value)


def _document(event: Event) -> dict[str, Any]:
    return {
        "_id": event.message_id,
        "event_type": event.event_type,
        "generated": event.generated,
        "generated_us": to_micros(event.generated),
        "traits": [
            {"name": t.name, "dtype": t.dtype, "value": _stored_value(t.dtype, t.value)}
            for t in event.traits
        ],
        "raw": event.raw,
    }


def _event(document: Mapping[str, Any]) -> Event:
    return Event(
        document["_id"],
        document["event_type"],
        from_micros(document["generated_us"]),
        tuple(_trait(item) for item in document.get("traits") or ()),
        json.loads(document["raw_json"]) if "raw_json" in document else document.get("raw"),
    )


def _encoded(event: Event) -> RawBSONDocument:
    """``event`` as BSON; raises ValueError when it cannot be stored."""
    document = _document(event)
    try:
        data = bson.encode(document)
    except _UNENCODABLE as err:
        if event.raw is None:
            raise ValueError(f"cannot be stored as BSON: {err}") from None
        # JSON-safe raw that BSON cannot hold (an integer beyond 64 bits,
        # non-string keys): keep it as JSON text, as the SQL drivers do.
        del document["raw"]
        try:
            document["raw_json"] = json.dumps(event.raw)
            data = bson.encode(document)
        except _UNENCODABLE as again:
            raise ValueError(f"cannot be stored as BSON: {again}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"document of {len(data)} bytes exceeds MongoDB's 16 MiB limit")
    return RawBSONDocument(data)


def _trait_clause(condition: TraitCondition) -> dict[str, Any]:
    value = _stored_value(condition.dtype, condition.value)
    return {
        "traits": {
            "$elemMatch": {
                "name": condition.name,
                "dtype": condition.dtype,
                "value": {_OPERATORS[condition.op]: value},
            }
        }
    }


def _admin_clause(project: str) -> dict[str, Any]:
    # No element named project_id, or a text project_id equal to ``project``.
    return {
        "$or": [
            {"traits.name": {"$ne": "project_id"}},
            {
                "traits": {
                    "$elemMatch": {"name": "project_id", "dtype": Trait.TEXT_TYPE, "value": project}
                }
            },
        ]
    }


def _after_clause(query: EventQuery) -> dict[str, Any]:
    """Keyset condition: strictly after ``query.after`` in ``query.sort`` order.

    For sort keys k1..kn this is ``k1 beyond v1 OR (k1 = v1 AND k2 beyond
    v2) OR ...``, where "beyond" is > for ascending and < for descending keys.
    """
    assert query.after is not None
    values = [
        to_micros(value) if key == "generated" else value
        for (key, _), value in zip(query.sort, query.after, strict=True)
    ]
    branches = []
    for position, (key, direction) in enumerate(query.sort):
        branch = {_FIELDS[k]: values[i] for i, (k, _) in enumerate(query.sort[:position])}
        branch[_FIELDS[key]] = {"$gt" if direction == "asc" else "$lt": values[position]}
        branches.append(branch)
    return {"$or": branches}


def query_filter(query: EventQuery) -> dict[str, Any]:
    """The MongoDB filter document of ``query`` (sort and limit excluded)."""
    clauses: list[dict[str, Any]] = []
    if query.event_type is not None:
        clauses.append({"event_type": query.event_type})
    if query.message_id is not None:
        clauses.append({"_id": query.message_id})
    bounds = {}
    if query.start is not None:
        bounds["$gte"] = to_micros(query.start)
    if query.end is not None:
        bounds["$lte"] = to_micros(query.end)
    if bounds:
        clauses.append({"generated_us": bounds})
    clauses.extend(_trait_clause(condition) for condition in query.traits)
    if query.admin_proj is not None:
        clauses.append(_admin_clause(query.admin_proj))
    if query.after is not None:
        clauses.append(_after_clause(query))
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class MongoEvents:
    """The event primitives of the MongoDB driver, over one collection (see the module)."""

    def _open_events(self, database: Database[Any]) -> None:
        """Use ``database``'s ``events`` collection (the driver's constructor calls this)."""
        self._event_collection: Collection[Any] = database[COLLECTION]

    def _write_events(self, events: Sequence[Event]) -> RecordResult:
        """Insert ``events`` with one unordered bulk insert."""
        result = RecordResult()
        documents: list[RawBSONDocument] = []
        ids: list[str] = []
        for event in events:
            try:
                documents.append(_encoded(event))
            except ValueError as err:
                result.failed[event.message_id] = str(err)
                continue
            ids.append(event.message_id)
        if not documents:
            return result
        rejected = self._insert_events(documents)
        for index, message_id in enumerate(ids):
            error = rejected.get(index)
            if error is None:
                result.stored.append(message_id)
            elif error.get("code") == DUPLICATE_KEY:
                result.duplicates.append(message_id)
            else:
                result.failed[message_id] = str(error.get("errmsg", error))
        return result

    def _insert_events(self, documents: list[RawBSONDocument]) -> dict[int, Mapping[str, Any]]:
        """Insert unordered; the write errors by document index."""
        with translated("recording events"):
            try:
                self._event_collection.insert_many(documents, ordered=False)
            except BulkWriteError as err:
                if err.details.get("writeConcernErrors"):
                    # Written, maybe not durably: let the caller retry the
                    # batch (the retry finds duplicates) rather than ack it.
                    raise StorageUnavailable(
                        f"MongoDB write concern not satisfied: {err.details['writeConcernErrors']}"
                    ) from err
                return {error["index"]: error for error in err.details.get("writeErrors", ())}
        return {}

    def _event_generated(self, message_id: str) -> dt.datetime | None:
        """``generated`` of the stored event ``message_id``, or None."""
        with translated("reading an event", InvalidQuery):
            document = self._event_collection.find_one({"_id": message_id}, {"generated_us": 1})
        return None if document is None else from_micros(document["generated_us"])

    def _query_events(self, query: EventQuery) -> list[Event]:
        """Events matching ``query``, in its order, at most ``query.limit``."""
        order = [(_FIELDS[key], _DIRECTIONS[direction]) for key, direction in query.sort]
        with translated("querying events", InvalidQuery):
            cursor = self._event_collection.find(query_filter(query), {"generated": 0}).sort(order)
            if query.limit is not None:
                cursor = cursor.limit(query.limit)
            return [_event(document) for document in cursor]

    def _delete_events_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Delete up to ``max_count`` oldest events generated before ``cutoff``."""
        expired = {"generated_us": {"$lt": to_micros(cutoff)}}
        with translated("deleting expired events"):
            if max_count is None:
                return int(self._event_collection.delete_many(expired).deleted_count)
            oldest = self._event_collection.find(expired, {"_id": 1}).sort(
                [("generated_us", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]
            )
            ids = [document["_id"] for document in oldest.limit(max_count)]
            if not ids:
                return 0
            return int(self._event_collection.delete_many({"_id": {"$in": ids}}).deleted_count)

    def get_event_types(self) -> list[str]:
        """Every event type that has an event, sorted."""
        with translated("listing event types"):
            return sorted(self._event_collection.distinct("event_type"))

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        """``{'name', 'data_type'}`` of every trait of ``event_type``, sorted."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"event_type": event_type}},
            {"$unwind": "$traits"},
            {"$group": {"_id": {"name": "$traits.name", "dtype": "$traits.dtype"}}},
        ]
        with translated("listing trait types", InvalidQuery):
            found = {
                (row["_id"]["name"], row["_id"]["dtype"])
                for row in self._event_collection.aggregate(pipeline)
            }
        return [{"name": name, "data_type": dtype} for name, dtype in sorted(found)]

    def get_traits(self, event_type: str, trait_type: str | None = None) -> list[Trait]:
        """Traits of ``event_type`` events (only ``trait_type``), oldest event first."""
        condition: dict[str, Any] = {"event_type": event_type}
        if trait_type is not None:
            condition["traits.name"] = trait_type
        order = [("generated_us", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]
        with translated("listing traits", InvalidQuery):
            documents = list(self._event_collection.find(condition, {"traits": 1}).sort(order))
        return [
            _trait(item)
            for document in documents
            for item in document.get("traits") or ()
            if trait_type is None or item["name"] == trait_type
        ]

    def _clear_events(self) -> None:
        """Delete every event (the collection and its indexes stay)."""
        with translated("clearing events"):
            self._event_collection.delete_many({})

    def _create_event_indexes(self, ttl_seconds: int | None) -> None:
        """Create the query indexes; keep the TTL index iff ``ttl_seconds``."""
        with translated("creating event indexes"):
            for name, keys in _INDEXES.items():
                self._event_collection.create_index(keys, name=name)
            self._sync_ttl_index(ttl_seconds)

    def _sync_ttl_index(self, ttl_seconds: int | None) -> None:
        existing = self._event_collection.index_information().get(TTL_INDEX)
        if ttl_seconds is None:
            if existing is not None:
                self._event_collection.drop_index(TTL_INDEX)
        elif existing is None:
            self._event_collection.create_index(
                [("generated", pymongo.ASCENDING)], name=TTL_INDEX, expireAfterSeconds=ttl_seconds
            )
        elif existing.get("expireAfterSeconds") != ttl_seconds:
            self._event_collection.database.command(
                "collMod", COLLECTION, index={"name": TTL_INDEX, "expireAfterSeconds": ttl_seconds}
            )
