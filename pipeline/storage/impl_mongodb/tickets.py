"""Tickets in MongoDB: the document layout, reads, solving, deleting and expiry.

Collections::

    tickets:     {_id: <int ticket_id>, app_id, record_hash, level, channel,
                  location, module, first_occurrence_time: <date>, first_us,
                  last_occurrence_time: <date>, last_us, occurrence_count,
                  solved: <bool>, status: "open" | "solved" | "regressed"}
    occurrences: {_id: <int occurrence_id>, ticket_id, app_id, occurrence_key,
                  time: <date>, time_us, data: <sub-document> | data_json: <str>}
    counters:    {_id: "ids", ticket_id: <last issued>, occurrence_id: <last issued>}

Ids are integers (the API exposes them) taken in blocks from the counter
document with one ``find_one_and_update`` ``$inc`` per batch. Times are kept
twice as in :mod:`.events`: a BSON date for people and exact microseconds
(``*_us``) for sorting, filtering and reading back. ``occurrence_key`` is
the occurrence's identity under a unique index; the index is sparse because
occurrences stored before keys existed have none.

Writes are described in :mod:`.ticket_upserts`. An occurrence whose data
cannot be BSON (an integer beyond 64 bits, say) is kept as JSON text in
``data_json`` instead, so no valid record is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo.database import Database

from pipeline.exceptions import InvalidQuery
from pipeline.models import Occurrence, Ticket, TicketStatus
from pipeline.storage.impl_mongodb.errors import translated
from pipeline.storage.impl_mongodb.events import from_micros, to_micros
from pipeline.storage.impl_mongodb.ticket_upserts import KEY_INDEX, TicketUpserts
from pipeline.storage.tickets import TicketGroup, TicketQuery, Written

_TICKET_FIELDS = {
    "ticket_id": "_id",
    "first_occurrence_time": "first_us",
    "last_occurrence_time": "last_us",
}
_OCCURRENCE_FIELDS = {"occurrence_id": "_id", "time": "time_us"}
_INDEXES: dict[str, dict[str, list[tuple[str, int]]]] = {
    "tickets": {
        "last_seen": [("last_us", -1)],
        "status_last_seen": [("status", 1), ("last_us", -1)],
    },
    "occurrences": {
        "ticket_time": [("ticket_id", 1), ("time_us", 1)],
        "time": [("time_us", 1), ("_id", 1)],
    },
}


def _ticket(document: Mapping[str, Any]) -> Ticket:
    return Ticket(
        int(document["_id"]),
        document["record_hash"],
        document["level"],
        document["channel"],
        document["location"],
        document.get("module"),
        document["app_id"],
        from_micros(document["first_us"]),
        from_micros(document["last_us"]),
        int(document["occurrence_count"]),
        bool(document["solved"]),
        TicketStatus(document["status"]),
    )


def _occurrence(document: Mapping[str, Any]) -> Occurrence:
    data = document.get("data")
    if data is None and "data_json" in document:
        data = json.loads(document["data_json"])
    return Occurrence(
        int(document["_id"]),
        int(document["ticket_id"]),
        from_micros(document["time_us"]),
        data or {},
        document["app_id"],
    )


def _sort(order: tuple[tuple[str, bool], ...], fields: Mapping[str, str]) -> list[tuple[str, int]]:
    return [
        (fields.get(column, column), pymongo.DESCENDING if descending else pymongo.ASCENDING)
        for column, descending in order
    ]


def _ticket_filter(query: TicketQuery) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if query.app_id is not None:
        found["app_id"] = query.app_id
    if query.status is not None:
        found["status"] = query.status.value
    if query.level is not None:
        found["level"] = {"$gte": query.level}
    if query.channel is not None:
        found["channel"] = query.channel
    if query.since is not None:
        found["last_us"] = {"$gte": to_micros(query.since)}
    return found


class MongoTickets:
    """The ticket primitives of the MongoDB driver (see the module docstring)."""

    def _open_tickets(self, database: Database[Any], transactions: bool) -> None:
        """Use ``database``'s collections; ``transactions``: whether the server has
        multi-document transactions (the driver's constructor calls this)."""
        self._ticket_collection = database["tickets"]
        self._occurrence_collection = database["occurrences"]
        self._counter_collection = database["counters"]
        self._upserts = TicketUpserts(database, transactions)

    def _write_tickets(self, groups: Sequence[TicketGroup]) -> Written:
        return self._upserts.write(groups)

    def _query_tickets(self, query: TicketQuery) -> list[Ticket]:
        """Tickets matching ``query``, ordered and paged."""
        if query.limit == 0:
            return []  # MongoDB reads limit 0 as "no limit"
        with translated("querying tickets", InvalidQuery):
            cursor = self._ticket_collection.find(_ticket_filter(query))
            cursor = cursor.sort(_sort(query.order, _TICKET_FIELDS)).skip(query.offset)
            if query.limit is not None:
                cursor = cursor.limit(query.limit)
            return [_ticket(document) for document in cursor]

    def _count_tickets(self, query: TicketQuery) -> int:
        """How many tickets match ``query``."""
        with translated("counting tickets", InvalidQuery):
            return int(self._ticket_collection.count_documents(_ticket_filter(query)))

    def _get_ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket ``ticket_id`` or None."""
        with translated("reading a ticket"):
            document = self._ticket_collection.find_one({"_id": ticket_id})
        return None if document is None else _ticket(document)

    def _query_occurrences(
        self, ticket_id: int, order: tuple[tuple[str, bool], ...], limit: int | None, offset: int
    ) -> list[Occurrence] | None:
        """Occurrences of a ticket, ordered and paged; None for an unknown ticket."""
        with translated("reading occurrences"):
            if self._ticket_collection.find_one({"_id": ticket_id}, {"_id": 1}) is None:
                return None
            if limit == 0:
                return []
            cursor = self._occurrence_collection.find({"ticket_id": ticket_id})
            cursor = cursor.sort(_sort(order, _OCCURRENCE_FIELDS)).skip(offset)
            if limit is not None:
                cursor = cursor.limit(limit)
            return [_occurrence(document) for document in cursor]

    # -- changing and deleting ---------------------------------------------------

    def _set_ticket_solved(self, ticket_id: int) -> bool:
        """Mark the ticket solved; False when it does not exist."""
        update = {"$set": {"solved": True, "status": TicketStatus.SOLVED.value}}
        with translated("solving a ticket"):
            return bool(
                self._ticket_collection.update_one({"_id": ticket_id}, update).matched_count
            )

    def _delete_ticket(self, ticket_id: int) -> bool:
        """Delete the ticket, then its occurrences; False when it does not exist."""
        with translated("deleting a ticket"):
            if not self._ticket_collection.delete_one({"_id": ticket_id}).deleted_count:
                return False
            self._occurrence_collection.delete_many({"ticket_id": ticket_id})
        return True

    def _delete_occurrences_before(self, cutoff: dt.datetime, max_count: int | None) -> int:
        """Delete up to ``max_count`` oldest occurrences older than ``cutoff``."""
        expired = {"time_us": {"$lt": to_micros(cutoff)}}
        with translated("deleting expired occurrences"):
            if max_count is None:
                return int(self._occurrence_collection.delete_many(expired).deleted_count)
            oldest = self._occurrence_collection.find(expired, {"_id": 1}).sort(
                [("time_us", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]
            )
            found = [document["_id"] for document in oldest.limit(max_count)]
            if not found:
                return 0
            return int(
                self._occurrence_collection.delete_many({"_id": {"$in": found}}).deleted_count
            )

    def _clear_tickets(self) -> None:
        """Delete every ticket and occurrence; ids keep counting up."""
        with translated("clearing tickets"):
            self._ticket_collection.delete_many({})
            self._occurrence_collection.delete_many({})

    def _create_ticket_indexes(self) -> None:
        """The unique ticket and occurrence keys, the query indexes and the id counter
        (idempotent)."""
        with translated("creating ticket indexes"):
            # Created here so that concurrent writers only ever $inc it.
            self._counter_collection.update_one(
                {"_id": "ids"},
                {"$setOnInsert": {"ticket_id": 0, "occurrence_id": 0}},
                upsert=True,
            )
            self._ticket_collection.create_index(
                [("app_id", 1), ("record_hash", 1)], name="app_record_hash", unique=True
            )
            self._occurrence_collection.create_index(
                [("occurrence_key", 1)], name=KEY_INDEX, unique=True, sparse=True
            )
            for collection in (self._ticket_collection, self._occurrence_collection):
                for name, keys in _INDEXES[collection.name].items():
                    collection.create_index(keys, name=name)
