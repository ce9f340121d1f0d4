"""The ticket half of the driver interface: declared capability, batch grouping, orders."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.exceptions import InvalidQuery, MissingCapability
from pipeline.models import UTC, TicketRecord
from pipeline.storage import Capability
from pipeline.storage.base import Connection as BaseConnection
from pipeline.storage.impl_memory import Connection as MemoryConnection
from pipeline.storage.tickets import TICKET_COLUMNS, group_records, parse_order

T0 = dt.datetime(2026, 11, 25, tzinfo=UTC)


def record(key: str, minutes: int, app: str = "a", level: int = 14) -> TicketRecord:
    return TicketRecord(key, app, T0 + dt.timedelta(minutes=minutes), level, "c", "l:1", None,
                        {"m": minutes})


def test_a_driver_declaring_tickets_without_the_primitives_is_rejected_when_defined() -> None:
    with pytest.raises(TypeError, match="_write_tickets"):

        class Broken(BaseConnection):
            capabilities = frozenset({Capability.TICKETS})


def test_a_driver_without_tickets_says_so() -> None:
    class EventsOnly(MemoryConnection):
        capabilities = frozenset({Capability.EVENTS})

    conn = EventsOnly()
    with pytest.raises(MissingCapability, match="tickets"):
        conn.record_tickets([record("k", 0)])
    with pytest.raises(MissingCapability, match="tickets"):
        conn.get_tickets()
    with pytest.raises(MissingCapability, match="ticket_expiry"):
        conn.clear_expired_occurrences(60)


def test_group_records_one_group_per_key_sorted_with_min_and_max() -> None:
    groups = group_records([record("b", 5), record("a", 3, level=13), record("b", 1),
                            record("a", 3, app="z"), record("b", 9)])
    assert [(g.app_id, g.record_hash, g.count) for g in groups] == [
        ("a", "a", 1), ("a", "b", 3), ("z", "a", 1)]
    b = groups[1]
    assert b.first_time == T0 + dt.timedelta(minutes=1) and b.last_time == T0 + dt.timedelta(minutes=9)
    assert b.module == "<unknown>" and b.data_json == ('{"m":5}', '{"m":1}', '{"m":9}')


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("level", (("level", False), ("ticket_id", False))),
        ("-last_occurrence_time", (("last_occurrence_time", True), ("ticket_id", False))),
        ("-ticket_id", (("ticket_id", True),)),
    ],
)
def test_parse_order(order_by: str, expected: tuple[tuple[str, bool], ...]) -> None:
    assert parse_order(order_by, TICKET_COLUMNS, "ticket_id") == expected


@pytest.mark.parametrize("order_by", ["", "-", "--level", "nope", "data", None])
def test_parse_order_rejects_unknown_columns(order_by: object) -> None:
    with pytest.raises(InvalidQuery):
        parse_order(order_by, TICKET_COLUMNS, "ticket_id")  # type: ignore[arg-type]
