"""The ticket rules as MongoDB updates: one upsert per ticket, one remap per mapped value.

Generated from :mod:`pipeline.storage.ticket_rules`: each bump's
:class:`~pipeline.storage.ticket_rules.Op` becomes its update operator
(``$inc``, ``$min``, ``$max``, ``$set``) in the ticket's
``update_one(upsert=True)``, the columns without one go in
``$setOnInsert``, and a MAP (solved becomes regressed), which no operator
expresses, becomes a conditional ``update_many`` per application sent
after the upserts in a bulk of its own (:mod:`.ticket_upserts`), whose
modified count is the number of tickets reopened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import UpdateMany, UpdateOne

from pipeline.storage.impl_mongodb.events import to_micros
from pipeline.storage.ticket_batch import TicketGroup
from pipeline.storage.ticket_rules import BUMPS, REGRESSION, Op, new_ticket, plain, remaps

#: Ticket columns kept twice (see :mod:`.tickets`): a date, and exact microseconds.
_MICROS_FIELDS = {"first_occurrence_time": "first_us", "last_occurrence_time": "last_us"}
#: The update operator of each :class:`Op` but MAP (see :func:`remap_bulks`).
_OPERATORS = {Op.ADD: "$inc", Op.LEAST: "$min", Op.GREATEST: "$max", Op.SET: "$set"}
#: Columns the upsert's filter names: the server copies them into a new document.
_FILTER_COLUMNS = ("app_id", "record_hash")


def _fields(column: str, value: Any) -> dict[str, Any]:
    """The document fields holding ``value`` of the ticket ``column``."""
    value = plain(value)
    micros = _MICROS_FIELDS.get(column)
    return {column: value} if micros is None else {micros: to_micros(value), column: value}


def upsert(group: TicketGroup, ticket_id: int) -> UpdateOne:
    """The group's ticket created with ``ticket_id``, or bumped (:mod:`.ticket_rules`).

    A column without a bump, or with a MAP (applied by :func:`remap_bulks`), is
    set on insert only; the other bumps' operators set a new document's
    fields to the group's values as well.
    """
    bumps = {bump.column: bump for bump in BUMPS}
    update: dict[str, dict[str, Any]] = {"$setOnInsert": {"_id": ticket_id}}
    for column, value in new_ticket(group).items():
        bump = bumps.get(column)
        if column in _FILTER_COLUMNS:
            continue
        operator = "$setOnInsert" if bump is None else _OPERATORS.get(bump.op, "$setOnInsert")
        update.setdefault(operator, {}).update(_fields(column, value))
    key = {"app_id": group.app_id, "record_hash": group.record_hash}
    return UpdateOne(key, update, upsert=True)


def remap_bulks(groups: Sequence[TicketGroup]) -> list[tuple[bool, list[UpdateMany]]]:
    """The MAP bumps, one bulk per mapped pair (``True`` for the
    :data:`~pipeline.storage.ticket_rules.REGRESSION`, whose modified count
    is the tickets reopened): per application, its tickets among ``groups``
    holding the mapped value get its image (a solved ticket becomes regressed).

    Each also sets the SET bumps' columns again (``solved`` false), which the
    upsert set already: so a change between the two statements (a solve, on
    a standalone server) cannot leave a regressed ticket still marked solved.
    """
    hashes: dict[str, list[str]] = {}
    for group in groups:
        hashes.setdefault(group.app_id, []).append(group.record_hash)
    sets: dict[str, Any] = {}
    for bump in BUMPS:
        if bump.op is Op.SET:
            sets.update(_fields(bump.column, bump.value))
    return [
        (
            (column, stored, image) == REGRESSION,
            [
                UpdateMany(
                    {"app_id": app_id, "record_hash": {"$in": found}, **_fields(column, stored)},
                    {"$set": {**_fields(column, image), **sets}},
                )
                for app_id, found in hashes.items()
            ],
        )
        for column, stored, image in remaps()
    ]
