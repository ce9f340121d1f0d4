"""A record standing for several log records (``TicketRecord.count``), on every ticket driver.

An importer folds the records its source counted but no longer holds into one
occurrence it kept: storing it adds its count to the ticket, once; a
redelivery of it adds nothing, like any other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from pipeline.models import TicketStatus
from pipeline.storage import Capability, Connection
from tests.functional.storage.test_tickets import T0, keyed, only

pytestmark = pytest.mark.requires(Capability.TICKETS)


def test_a_record_adds_its_count_to_a_new_ticket_and_an_existing_one(conn: Connection) -> None:
    conn.record_tickets([dataclasses.replace(keyed("a", 5, occurrence="m1"), count=40)])
    ticket = only(conn, "a")
    assert ticket.occurrence_count == 40
    assert len(conn.get_occurrences(ticket.ticket_id, limit=None)) == 1
    conn.record_tickets(
        [keyed("a", 1, occurrence="m2"), dataclasses.replace(keyed("a", 9, occurrence="m3"), count=3)]
    )
    ticket = only(conn, "a")
    assert ticket.occurrence_count == 44
    assert ticket.first_occurrence_time == T0 + dt.timedelta(minutes=1)
    assert ticket.last_occurrence_time == T0 + dt.timedelta(minutes=9)
    assert len(conn.get_occurrences(ticket.ticket_id, limit=None)) == 3


def test_a_redelivered_counted_record_adds_nothing(conn: Connection) -> None:
    counted = dataclasses.replace(keyed("a", 5, occurrence="m1"), count=7)
    conn.record_tickets([counted, keyed("b", 1, occurrence="m2")])
    conn.solve_ticket(only(conn, "a").ticket_id)
    before = only(conn, "a")
    result = conn.record_tickets([counted, counted])
    assert result.stored == 2 and not result.failed
    assert only(conn, "a") == before
    assert before.occurrence_count == 7 and before.status is TicketStatus.SOLVED
    # Within one batch the first of a key wins, its count included.
    conn.record_tickets(
        [
            dataclasses.replace(keyed("c", 1, occurrence="m9"), count=2),
            dataclasses.replace(keyed("c", 2, occurrence="m9"), count=50),
        ]
    )
    assert only(conn, "c").occurrence_count == 2


@pytest.mark.parametrize("count", [0, -3, True, 1.5, "2", None])
def test_a_bad_count_fails_alone(conn: Connection, count: Any) -> None:
    result = conn.record_tickets(
        [dataclasses.replace(keyed("a", occurrence="m1"), count=count), keyed("a", occurrence="m2")]
    )
    assert list(result.failed) == [0] and "count" in result.failed[0]
    assert only(conn, "a").occurrence_count == 1
