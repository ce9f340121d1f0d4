"""Writing a batch of tickets to MongoDB: race-free, in a transaction when the server has them.

Occurrences first, then the tickets, bumped only by the occurrences that
were new. Six round trips per batch: (in a transaction) read which of the
batch's given occurrence keys are stored already; read the ids of the
batch's ticket keys that exist; reserve ids (new tickets, every occurrence);
one unordered ``insert_many`` of the occurrences, each carrying its ticket's
id (an existing one or a reserved one) and its ``occurrence_key`` under a
unique index, where a duplicate key marks a redelivered record and is not
counted; then one unordered bulk of ``update_one(upsert=True)`` per ticket
that got new occurrences, its operators generated from
:mod:`pipeline.storage.ticket_rules` (``$inc`` the count by them,
``$min``/``$max`` their times, ``$set`` ``solved`` false, ``$setOnInsert``
the id and description), then a bulk of one conditional ``update_many``
per application turning its solved tickets among them into ``regressed``.
The tickets the upsert bulk reports upserted are those this write created;
the ones the second bulk modified, those it reopened (each document is
changed atomically, and in a transaction a concurrent change aborts one
writer, so no ticket is counted twice).
The unique index on ``(app_id, record_hash)`` keeps concurrent writers to
one ticket per key: an upsert that loses the insert race either matches the
winner's document (the server retries it) or fails with a duplicate-key
error, and is then retried by this module — never dropped; occurrences
inserted under the loser's reserved id are then moved to the winner's.

On a replica set or sharded cluster all of it runs in one multi-document
transaction, so a failure writes nothing; a redelivered key that another
writer inserts concurrently aborts it (duplicate key or write conflict) and
it runs again, finding the key stored. A standalone server has no
transactions, and there the occurrence insert ignores duplicate keys (the
lookup would race): a failure after the occurrence insert and before the
ticket bulk leaves those occurrences stored but uncounted — and a ticket the
batch would have created missing — and the caller's retry or a redelivery,
finding their keys stored, does not count them either. Counts then err low,
never double; the error raised says so. Deploy a replica set, even of one
member. Ids are reserved outside the transaction (an aborted one leaves a
gap) so that the counter document does not serialise writers. A ticket
deleted while a batch for it is being written may come back under its old
id, and its last occurrences may be deleted with it: deleting is an
operator's action on a ticket, not expected while it fires.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from pipeline.exceptions import StorageError, StorageUnavailable
from pipeline.models import TicketRecord
from pipeline.storage.impl_mongodb.errors import DUPLICATE_KEY, translated
from pipeline.storage.impl_mongodb.events import to_micros
from pipeline.storage.impl_mongodb.ticket_bumps import remap_bulks, upsert
from pipeline.storage.tickets import TicketGroup, Written, given_keys, new_only

LOG = logging.getLogger(__name__)
#: Rounds of the upsert bulk before giving up on keys that keep colliding.
MAX_ATTEMPTS = 5
#: Runs of a ticket transaction before giving up (conflicts are retried with back-off).
TRANSACTION_ATTEMPTS = 30
#: Server error code of two transactions writing the same document.
WRITE_CONFLICT = 112

#: Name of the unique index on ``occurrences.occurrence_key``.
KEY_INDEX = "occurrence_key"

Key = tuple[str, str]


def _key(group: TicketGroup) -> Key:
    return (group.app_id, group.record_hash)


def _occurrence_document(
    occurrence_id: int, ticket_id: int, record: TicketRecord, key: str
) -> RawBSONDocument:
    document = {
        "_id": occurrence_id,
        "ticket_id": ticket_id,
        "app_id": record.app_id,
        "time": record.time,
        "time_us": to_micros(record.time),
        "occurrence_key": key,
        "data": record.data,
    }
    try:
        return RawBSONDocument(bson.encode(document))
    except (bson.errors.BSONError, OverflowError, ValueError, TypeError):
        # JSON-safe but not BSON-safe (huge integers, non-string keys): keep it as text.
        del document["data"]
        document["data_json"] = json.dumps(record.data)
        return RawBSONDocument(bson.encode(document))


def _is_key_duplicate(error: Mapping[str, Any]) -> bool:
    """True for a write error that is a duplicate ``occurrence_key`` (a redelivery)."""
    if error.get("code") != DUPLICATE_KEY:
        return False
    pattern = error.get("keyPattern")
    if pattern is not None:
        return KEY_INDEX in pattern
    return f"index: {KEY_INDEX} " in str(error.get("errmsg", ""))


class _Collided(Exception):
    """Writes inside a transaction lost a race: rerun the whole transaction."""


class TicketUpserts:
    """Writes ticket batches into the ``tickets``, ``occurrences`` and ``counters`` collections.

    ``transactions`` says whether the server has multi-document transactions.
    """

    def __init__(self, database: Database[Any], transactions: bool) -> None:
        self._client = database.client
        self._tickets = database["tickets"]
        self._occurrences = database["occurrences"]
        self._counters = database["counters"]
        self._transactions = transactions

    def write(self, groups: Sequence[TicketGroup]) -> Written:
        """Insert the groups' new occurrences, then upsert their tickets; the ticket
        ids and how many tickets were created and reopened."""
        with translated("recording tickets"):
            if not self._transactions:
                return self._write(groups, None)
            for attempt in range(TRANSACTION_ATTEMPTS):
                written = self._write_in_transaction(groups)
                if written is not None:
                    return written
                # Jittered back-off so that colliding writers fall out of step.
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 7)))
        raise StorageUnavailable(
            f"ticket transactions kept colliding after {TRANSACTION_ATTEMPTS} attempts"
        )

    def _write_in_transaction(self, groups: Sequence[TicketGroup]) -> Written | None:
        """One transaction; None when it lost a race and must run again.

        Not ``with_transaction``: that retries for up to two minutes, also
        when the server is gone, where the caller wants StorageUnavailable now.
        """
        with self._client.start_session() as session:
            try:
                with session.start_transaction():
                    return self._write(groups, session)
            except _Collided:
                pass
            except OperationFailure as err:  # not ConnectionFailure: that is no conflict
                if not err.has_error_label("TransientTransactionError"):
                    raise
        LOG.debug("a ticket transaction lost a race; running it again")
        return None

    def _write(self, groups: Sequence[TicketGroup], session: ClientSession | None) -> Written:
        fresh = list(groups)
        if session is not None:  # a consistent snapshot: the lookup is exact
            stored = self._stored_keys(given_keys(groups), session)
            fresh = new_only(groups, stored) if stored else fresh
        known = self._known_ids(groups, session) if groups else {}
        missing = [group for group in fresh if _key(group) not in known]
        new_ids, reserved = self._reserve(len(missing), sum(group.count for group in fresh))
        assigned = {**known, **{_key(group): next(new_ids) for group in missing}}
        occurrence_ids: dict[str, int] = {}
        documents = []
        for group in fresh:
            for record, key in zip(group.records, group.keys, strict=True):
                occurrence_ids[key] = next(reserved)
                documents.append(
                    _occurrence_document(occurrence_ids[key], assigned[_key(group)], record, key)
                )
        duplicates = self._insert_occurrences(documents, list(occurrence_ids), session)
        counted = new_only(fresh, duplicates) if duplicates else fresh
        written = self._upsert_all(counted, assigned, set(known), session)
        written.regressed = self._reopen(counted, session)
        self._repoint(counted, assigned, written.ticket_ids, occurrence_ids, session)
        written.ticket_ids = {**known, **written.ticket_ids}
        return written

    def _reopen(self, groups: Sequence[TicketGroup], session: ClientSession | None) -> int:
        """Apply the MAP bumps to the groups' tickets; how many solved ones were reopened."""
        reopened = 0
        for counted, operations in remap_bulks(groups) if groups else ():
            result = self._tickets.bulk_write(operations, ordered=False, session=session)
            reopened += result.modified_count if counted else 0
        return reopened

    def _stored_keys(self, keys: Sequence[str], session: ClientSession | None) -> set[str]:
        if not keys:
            return set()
        cursor = self._occurrences.find(
            {"occurrence_key": {"$in": list(keys)}}, {"occurrence_key": 1}, session=session
        )
        return {document["occurrence_key"] for document in cursor}

    def _upsert_all(
        self,
        groups: Sequence[TicketGroup],
        assigned: dict[Key, int],
        known: set[Key],
        session: ClientSession | None,
    ) -> Written:
        """Upsert every group with its ``assigned`` id (existing for ``known``); final
        ids, and how many tickets the upserts created."""
        written = Written({})
        pending = list(groups)
        if not pending:  # every record was a redelivery
            return written
        for attempt in range(MAX_ATTEMPTS):
            if attempt:  # the keys that lost a race exist now: learn their ids
                found = self._known_ids(pending, session)
                missing = [group for group in pending if _key(group) not in found]
                new_ids, _ = self._reserve(len(missing), 0)
                assigned = {**assigned, **found, **{_key(g): next(new_ids) for g in missing}}
                known = set(found)
            pending = self._bulk(pending, assigned, known, written, session)
            if not pending:
                return written
            LOG.debug("retrying %d ticket upserts that lost a race", len(pending))
        raise StorageUnavailable(
            f"{len(pending)} ticket upserts kept colliding after {MAX_ATTEMPTS} attempts"
        )

    def _repoint(
        self,
        groups: Sequence[TicketGroup],
        assigned: Mapping[Key, int],
        ids: Mapping[Key, int],
        occurrence_ids: Mapping[str, int],
        session: ClientSession | None,
    ) -> None:
        """Move occurrences inserted under an id whose ticket another writer created first."""
        for group in groups:
            if ids[_key(group)] != assigned[_key(group)]:
                moved = [occurrence_ids[key] for key in group.keys]
                self._occurrences.update_many(
                    {"_id": {"$in": moved}},
                    {"$set": {"ticket_id": ids[_key(group)]}},
                    session=session,
                )

    def _known_ids(
        self, groups: Sequence[TicketGroup], session: ClientSession | None
    ) -> dict[Key, int]:
        hashes: dict[str, list[str]] = {}
        for group in groups:
            hashes.setdefault(group.app_id, []).append(group.record_hash)
        condition = [
            {"app_id": app, "record_hash": {"$in": found}} for app, found in hashes.items()
        ]
        cursor = self._tickets.find(
            {"$or": condition}, {"app_id": 1, "record_hash": 1}, session=session
        )
        return {(doc["app_id"], doc["record_hash"]): int(doc["_id"]) for doc in cursor}

    def _reserve(self, tickets: int, occurrences: int) -> tuple[Iterator[int], Iterator[int]]:
        """Take ``tickets`` ticket ids and ``occurrences`` occurrence ids from the counter."""
        if not tickets and not occurrences:
            return iter(()), iter(())
        increments = {"ticket_id": tickets, "occurrence_id": occurrences}
        counter: Mapping[str, Any] | None = None
        for _ in range(2):  # the counter's very first upsert may race another writer's
            try:
                counter = self._counters.find_one_and_update(
                    {"_id": "ids"},
                    {"$inc": increments},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                break
            except DuplicateKeyError:
                continue
        if counter is None:  # a conforming server never answers an upsert with null
            raise StorageError("the id counter document could not be read or created")
        return (
            iter(range(counter["ticket_id"] - tickets + 1, counter["ticket_id"] + 1)),
            iter(range(counter["occurrence_id"] - occurrences + 1, counter["occurrence_id"] + 1)),
        )

    def _bulk(
        self,
        groups: list[TicketGroup],
        assigned: dict[Key, int],
        known: set[Key],
        written: Written,
        session: ClientSession | None,
    ) -> list[TicketGroup]:
        """One unordered bulk for ``groups``; fills ``written``; returns the groups to retry.

        ``assigned`` holds each key's id: the existing one for ``known``
        keys, a freshly reserved one for the others.
        """
        operations: list[Any] = [upsert(group, assigned[_key(group)]) for group in groups]
        try:
            result = self._tickets.bulk_write(operations, ordered=False, session=session)
            upserted = result.upserted_ids or {}
            errors: dict[int, Mapping[str, Any]] = {}
        except BulkWriteError as err:
            if err.details.get("writeConcernErrors"):
                raise StorageUnavailable(f"write concern not satisfied: {err.details}") from err
            upserted = {item["index"]: item["_id"] for item in err.details.get("upserted", ())}
            errors = {item["index"]: item for item in err.details.get("writeErrors", ())}
        conflicts = (DUPLICATE_KEY, WRITE_CONFLICT)
        if (
            session is not None
            and errors
            and all(e.get("code") in conflicts for e in errors.values())
        ):
            raise _Collided()  # the server has aborted the transaction
        if any(e.get("code") != DUPLICATE_KEY for e in errors.values()):
            raise StorageError(f"ticket upsert failed: {list(errors.values())}")
        retry, matched_new = [], []
        ids = written.ticket_ids
        written.created += len(upserted)
        for index, group in enumerate(groups):
            key = _key(group)
            if index in errors:
                retry.append(group)  # lost the insert race: the next round finds the winner
            elif index in upserted or key in known:
                ids[key] = assigned[key]
            else:
                matched_new.append(group)  # created meanwhile by another writer
        if matched_new:
            found = self._known_ids(matched_new, session)
            ids.update(found)
            retry += [group for group in matched_new if _key(group) not in found]
        return retry

    def _insert_occurrences(
        self, documents: list[RawBSONDocument], keys: list[str], session: ClientSession | None
    ) -> set[str]:
        """Insert ``documents`` (whose occurrence keys are ``keys``); the keys found stored.

        Only a standalone server answers with stored keys: in a transaction
        the lookup before found them all, so a duplicate there is another
        writer's concurrent insert, and the transaction runs again.
        """
        if not documents:
            return set()
        try:
            self._occurrences.insert_many(documents, ordered=False, session=session)
        except BulkWriteError as err:
            errors = err.details.get("writeErrors") or []
            redelivered = [e for e in errors if _is_key_duplicate(e)]
            if (
                session is not None
                and errors
                and all(e in redelivered or e.get("code") == WRITE_CONFLICT for e in errors)
            ):
                raise _Collided() from err  # the server has aborted the transaction
            if len(redelivered) < len(errors) or err.details.get("writeConcernErrors"):
                done = "nothing was written" if session else "none of them is counted"
                raise StorageError(
                    f"occurrences were not all stored ({done}): "
                    f"{errors or err.details.get('writeConcernErrors')}"
                ) from err
            return {keys[e["index"]] for e in redelivered}
        return set()
