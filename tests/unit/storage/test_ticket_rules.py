"""The ticket upsert rules as data, and what each dialect generates from them.

Whether the generated writes keep tickets right is proven on every driver
by ``tests/functional/storage/test_differential_tickets.py``; these check
the rules' reference semantics and that each generated write names every
column once.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from pipeline.models import UTC, TicketRecord, TicketStatus
from pipeline.storage import ticket_rules
from pipeline.storage.impl_mongodb import ticket_bumps as mongo_bumps
from pipeline.storage.impl_sqlalchemy.ticket_bumps import assignments, ticket_rows
from pipeline.storage.impl_sqlalchemy.ticket_schema import TICKET_TABLES
from pipeline.storage.ticket_rules import BUMPS, Bump, Op, bumped, new_ticket
from pipeline.storage.tickets import group_records

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def group(*minutes: int, level: int = 40) -> ticket_rules.TicketGroup:
    records = [
        TicketRecord("h", "app", T0 + dt.timedelta(minutes=m), level, "c", "f.py:1", "m", {})
        for m in minutes
    ]
    (found,) = group_records(records)
    return found


def test_a_new_ticket_is_open_unsolved_and_takes_the_groups_values() -> None:
    values = new_ticket(group(5, 2, 9))
    assert values["occurrence_count"] == 3 and values["status"] is TicketStatus.OPEN
    assert values["first_occurrence_time"] == T0 + dt.timedelta(minutes=2)
    assert values["last_occurrence_time"] == T0 + dt.timedelta(minutes=9)
    assert values["solved"] is False


@pytest.mark.parametrize("status", list(TicketStatus))
def test_a_bump_adds_widens_reopens_and_keeps_the_description(status: TicketStatus) -> None:
    stored = {**new_ticket(group(3, 4)), "status": status, "solved": status is TicketStatus.SOLVED}
    after = {**stored, **bumped(stored, new_ticket(group(1, 6, level=10)))}
    assert after["occurrence_count"] == 4
    assert after["first_occurrence_time"] == T0 + dt.timedelta(minutes=1)
    assert after["last_occurrence_time"] == T0 + dt.timedelta(minutes=6)
    reopened = TicketStatus.REGRESSED if status is TicketStatus.SOLVED else status
    assert after["status"] is reopened and after["solved"] is False
    assert after["level"] == 40  # not bumped: as first written


def test_rules_a_dialect_could_not_apply_as_stated_are_refused() -> None:
    chained = Bump("status", Op.MAP, mapping=(("a", "b"), ("b", "c")))
    with pytest.raises(ValueError, match="chains"):
        ticket_rules._check((chained,))
    with pytest.raises(ValueError, match="twice"):
        ticket_rules._check((*BUMPS, BUMPS[0]))


def test_the_sql_upsert_inserts_every_column_and_bumps_the_bumped_ones() -> None:
    table = TICKET_TABLES.ticket
    (row,) = ticket_rows([group(1)])
    assert set(row) == set(new_ticket(group(1))) and row["status"] == "open"
    excluded = sa.dialects.sqlite.insert(table).excluded
    upserted = [b.column for b in BUMPS if b.op is not Op.MAP]
    assert [column for column, _ in assignments(table, excluded)] == upserted


def test_the_mongodb_upsert_names_every_field_once() -> None:
    """MongoDB refuses an update naming one path under two operators."""
    update = mongo_bumps.upsert(group(1, 2), 7)._doc
    paths = [path for fields in update.values() for path in fields]
    assert len(paths) == len(set(paths))
    expected = set(new_ticket(group(1))) - {"app_id", "record_hash"}
    assert {"_id", "first_us", "last_us", *expected} == set(paths)
    ((counted, (remap,)),) = mongo_bumps.remap_bulks([group(1)])
    assert counted and remap._filter["status"] == "solved"
    assert remap._doc == {"$set": {"status": "regressed", "solved": False}}
