"""The ticket upsert rules, stated once, as data every driver's write is generated from.

Every driver writes a batch's tickets with one statement per ticket key:
an upsert that creates the ticket or bumps the stored one. What it
creates and how it bumps are stated here, and nowhere else:

* :func:`new_ticket`: the columns of a ticket a group creates: the
  group's key and description (level, channel, location, module), its
  count and first/last times, status open, not solved;
* :data:`BUMPS`: how a bumped column of a stored ticket combines with the
  value the group would have created it with: the count adds up, first is
  the least and last the greatest time, a solved status becomes regressed,
  ``solved`` is cleared. A column without a bump keeps the value it was
  first written with.

A MAP is applied as a step of its own, right after the upsert and in the
same transaction: one conditional update of the batch's tickets that hold
a mapped value (:func:`remaps`), as no upsert can tell which rows it
changed from what. The upsert has locked the rows (SQL) or the transaction
isolates them (MongoDB), so the number of tickets that step changes is
exactly how many this write reopened — the ``regressed`` count of
:class:`~pipeline.models.TicketResult` (:data:`REGRESSION` is the one MAP
pair). The write's ``created`` count is the tickets whose count after the
upsert is what this write added (a stored count is at least one, so a
ticket that existed ends higher), or those the server reports upserted.

Each dialect translates the five :class:`Op`\\ s once: the memory driver
applies :func:`bumped`; the SQL driver builds ``ON CONFLICT`` / ``ON
DUPLICATE KEY`` assignments from :data:`BUMPS`
(:mod:`pipeline.storage.impl_sqlalchemy.ticket_bumps`, also compiled into
PostgreSQL's bulk upsert); the MongoDB driver builds update operators
(:mod:`pipeline.storage.impl_mongodb.ticket_bumps`). So a rule
changed here changes in every driver, and the differential ticket test
(``tests/functional/storage/test_differential_tickets.py``) proves the
result against a reference model on all of them.

Every op reads only its own column, so a dialect that applies assignments
left to right, each seeing the ones before (MySQL), gets the same result as
one that evaluates them all against the stored row.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.models import TicketStatus
from pipeline.storage.ticket_batch import TicketGroup


class Op(enum.Enum):
    """How a bumped column combines its stored value with the group's value."""

    #: stored + new
    ADD = "add"
    #: the smaller of stored and new
    LEAST = "least"
    #: the larger of stored and new
    GREATEST = "greatest"
    #: stored, replaced by its image in ``mapping`` when it has one (new unused)
    MAP = "map"
    #: ``value``, whatever was stored; also the value a new ticket starts with
    SET = "set"


@dataclass(frozen=True)
class Bump:
    """One bumped column and its :class:`Op` (with the op's ``mapping`` or ``value``)."""

    column: str
    op: Op
    mapping: tuple[tuple[Any, Any], ...] = ()
    value: Any = None


#: How a stored ticket is bumped by a group's new occurrences.
BUMPS: tuple[Bump, ...] = (
    Bump("occurrence_count", Op.ADD),
    Bump("first_occurrence_time", Op.LEAST),
    Bump("last_occurrence_time", Op.GREATEST),
    Bump("status", Op.MAP, mapping=((TicketStatus.SOLVED, TicketStatus.REGRESSED),)),
    Bump("solved", Op.SET, value=False),
)


#: The MAP pair whose application counts as a regression: solved becomes regressed.
REGRESSION: tuple[str, Any, Any] = ("status", TicketStatus.SOLVED, TicketStatus.REGRESSED)


def upsert_bumps() -> tuple[Bump, ...]:
    """The bumps an upsert applies: all but the MAPs (see :func:`remaps`)."""
    return tuple(bump for bump in BUMPS if bump.op is not Op.MAP)


def remaps() -> list[tuple[str, Any, Any]]:
    """``(column, stored, image)`` of every MAP pair, applied after the upsert
    to the tickets holding ``stored`` (with the SET bumps, which the upsert set)."""
    return [
        (bump.column, stored, image)
        for bump in BUMPS
        if bump.op is Op.MAP
        for stored, image in bump.mapping
    ]


def new_ticket(group: TicketGroup) -> dict[str, Any]:
    """The columns of the ticket ``group`` creates (all but its id), by name.

    :data:`BUMPS`' ``SET`` columns take their value, so that a store whose
    upsert sets them on insert and update alike (MongoDB's ``$set``) agrees.
    """
    values: dict[str, Any] = {
        "app_id": group.app_id,
        "record_hash": group.record_hash,
        "level": group.level,
        "channel": group.channel,
        "location": group.location,
        "module": group.module,
        "first_occurrence_time": group.first_time,
        "last_occurrence_time": group.last_time,
        "occurrence_count": group.count,
        "status": TicketStatus.OPEN,
    }
    values.update((bump.column, bump.value) for bump in BUMPS if bump.op is Op.SET)
    return values


def bump_value(bump: Bump, stored: Any, new: Any) -> Any:
    """The value of ``bump.column`` after the bump: the reference semantics of each op."""
    if bump.op is Op.ADD:
        return stored + new
    if bump.op is Op.LEAST:
        return min(stored, new)
    if bump.op is Op.GREATEST:
        return max(stored, new)
    if bump.op is Op.MAP:
        return dict(bump.mapping).get(stored, stored)
    return bump.value


def bumped(stored: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The bumped columns of ``stored`` written again with ``new`` (:func:`new_ticket`)."""
    return {b.column: bump_value(b, stored[b.column], new[b.column]) for b in BUMPS}


def plain(value: Any) -> Any:
    """``value`` as a database stores it: an enum member as its value."""
    return value.value if isinstance(value, enum.Enum) else value


def _check(bumps: tuple[Bump, ...]) -> None:
    """Refuse rules some dialect could not apply as stated.

    A MAP whose image is also mapped would chain where a dialect applies
    one replacement after another (MongoDB: one update per pair).
    """
    for bump in bumps:
        sources = {source for source, _ in bump.mapping}
        if any(image in sources for _, image in bump.mapping):
            raise ValueError(f"the mapping of {bump.column!r} chains: {bump.mapping!r}")
    columns = [bump.column for bump in bumps]
    if len(set(columns)) != len(columns):
        raise ValueError(f"a column is bumped twice: {columns!r}")


_check(BUMPS)
if REGRESSION not in remaps():
    raise ValueError(f"the regression {REGRESSION!r} is not a MAP of the rules")
