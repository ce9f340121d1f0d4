"""Ticket scenarios every driver declaring TICKETS must pass, with the same results."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from pipeline.exceptions import InvalidQuery, TicketNotFound
from pipeline.models import UTC, Ticket, TicketRecord, TicketStatus
from pipeline.storage import Capability, Connection
from pipeline.storage.tickets import OCCURRENCE_COLUMNS, TICKET_COLUMNS

pytestmark = pytest.mark.requires(Capability.TICKETS)
T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def rec(key: str, minutes: int = 0, *, app: str = "app", level: int = 14,
        channel: str = "chan", **data: Any) -> TicketRecord:
    """A record of ticket ``key`` at T0 + minutes."""
    return TicketRecord(
        record_hash=key, app_id=app, time=T0 + dt.timedelta(minutes=minutes), level=level,
        channel=channel, location=f"{key}.py:1", module=f"mod.{key}",
        data={"message": f"{key} at {minutes}", **data},
    )


def only(conn: Connection, key: str, app: str = "app") -> Ticket:
    found = [t for t in conn.get_tickets(limit=None, app_id=app) if t.record_hash == key]
    assert len(found) == 1
    return found[0]


def test_counts_and_first_last_with_out_of_order_records(conn: Connection) -> None:
    result = conn.record_tickets([rec("a", 5), rec("a", 1), rec("b", 3), rec("a", 9)])
    assert result.stored == 4 and not result.failed
    conn.record_tickets([rec("a", -2), rec("a", 7)])
    ticket = only(conn, "a")
    assert ticket.occurrence_count == 5
    assert ticket.first_occurrence_time == T0 - dt.timedelta(minutes=2)
    assert ticket.last_occurrence_time == T0 + dt.timedelta(minutes=9)
    assert ticket.status is TicketStatus.OPEN and ticket.solved is False
    assert (ticket.level, ticket.channel, ticket.location, ticket.module) == (
        14, "chan", "a.py:1", "mod.a")
    assert result.ticket_ids[("app", "a")] == ticket.ticket_id
    assert conn.count_tickets() == 2
    occurrences = conn.get_occurrences(ticket.ticket_id, limit=None)
    assert len(occurrences) == 5
    assert [o.time for o in occurrences] == sorted((o.time for o in occurrences), reverse=True)
    assert occurrences[0].data == {"message": "a at 9"}
    assert {o.app_id for o in occurrences} == {"app"} and occurrences[0].ticket_id == ticket.ticket_id


def test_solve_then_reopen_as_regressed(conn: Connection) -> None:
    conn.record_tickets([rec("a")])
    ticket_id = only(conn, "a").ticket_id
    conn.solve_ticket(ticket_id)
    solved = conn.get_ticket(ticket_id)
    assert solved.solved is True and solved.status is TicketStatus.SOLVED
    assert conn.count_tickets(status="solved") == 1
    conn.record_tickets([rec("a", 1)])
    again = conn.get_ticket(ticket_id)
    assert again.solved is False and again.status is TicketStatus.REGRESSED
    assert again.occurrence_count == 2
    conn.record_tickets([rec("a", 2)])
    assert conn.get_ticket(ticket_id).status is TicketStatus.REGRESSED


def test_delete_then_the_same_key_makes_a_new_ticket(conn: Connection) -> None:
    conn.record_tickets([rec("a"), rec("a", 1)])
    old = only(conn, "a")
    conn.delete_ticket(old.ticket_id)
    assert conn.count_tickets() == 0
    with pytest.raises(TicketNotFound):
        conn.get_ticket(old.ticket_id)
    conn.record_tickets([rec("a", 5)])
    new = only(conn, "a")
    assert new.ticket_id != old.ticket_id
    assert new.occurrence_count == 1 and new.first_occurrence_time == T0 + dt.timedelta(minutes=5)
    assert len(conn.get_occurrences(new.ticket_id)) == 1


@pytest.mark.parametrize("call", ["get_ticket", "solve_ticket", "delete_ticket", "get_occurrences"])
def test_unknown_ticket_ids_raise_ticket_not_found(conn: Connection, call: str) -> None:
    conn.record_tickets([rec("a")])
    for unknown in (999_999, "nope", None):
        with pytest.raises(TicketNotFound):
            getattr(conn, call)(unknown)


def test_same_key_in_two_apps_is_two_tickets(conn: Connection) -> None:
    result = conn.record_tickets([rec("a", app="one"), rec("a", app="two"), rec("a", app="two")])
    assert result.ticket_ids[("one", "a")] != result.ticket_ids[("two", "a")]
    assert only(conn, "a", "one").occurrence_count == 1
    assert only(conn, "a", "two").occurrence_count == 2


def _five_tickets(conn: Connection) -> None:
    # Distinct values per column (lower-case ASCII: collation-independent).
    specs = [("c", 3, 11, "delta", 2), ("a", 1, 14, "alpha", 1), ("e", 5, 12, "echo", 3),
             ("b", 4, 15, "bravo", 5), ("d", 2, 13, "charlie", 4)]
    for key, minutes, level, channel, count in specs:
        conn.record_tickets([rec(key, minutes + i, level=level, channel=channel,
                                 app=f"app{key}") for i in range(count)])
    conn.solve_ticket(conn.get_tickets(limit=None, app_id="appe")[0].ticket_id)


@pytest.mark.parametrize("column", TICKET_COLUMNS)
def test_order_tickets_by_every_column_both_ways(conn: Connection, column: str) -> None:
    _five_tickets(conn)

    def value(ticket: Ticket) -> Any:
        found = getattr(ticket, column)
        return found.value if isinstance(found, TicketStatus) else found

    ascending = conn.get_tickets(order_by=column, limit=None)
    descending = conn.get_tickets(order_by="-" + column, limit=None)
    assert len(ascending) == len(descending) == 5
    assert [value(t) for t in ascending] == sorted(value(t) for t in ascending)
    assert [value(t) for t in descending] == sorted((value(t) for t in descending), reverse=True)
    if column not in ("solved", "status"):  # the only columns with ties here
        assert ascending == descending[::-1]


@pytest.mark.parametrize("column", OCCURRENCE_COLUMNS)
def test_order_occurrences_by_every_column_both_ways(conn: Connection, column: str) -> None:
    ticket_id = conn.record_tickets([rec("a", m) for m in (4, 1, 3, 0, 2)]).ticket_ids[("app", "a")]
    ascending = conn.get_occurrences(ticket_id, column, limit=None)
    descending = conn.get_occurrences(ticket_id, "-" + column, limit=None)
    values = [getattr(o, column) for o in ascending]
    assert values == sorted(values) and len(values) == 5
    assert [getattr(o, column) for o in descending] == sorted(values, reverse=True)
    if column in ("occurrence_id", "time"):
        assert ascending == descending[::-1]


def test_limit_and_offset_page_through_tickets_and_occurrences(conn: Connection) -> None:
    _five_tickets(conn)
    whole = conn.get_tickets(order_by="channel", limit=None)
    assert conn.get_tickets(order_by="channel", limit=2) == whole[:2]
    assert conn.get_tickets(order_by="channel", limit=2, offset=2) == whole[2:4]
    assert conn.get_tickets(order_by="channel", limit=2, offset=4) == whole[4:]
    assert conn.get_tickets(order_by="channel", limit=0) == []
    assert conn.get_tickets(offset=10) == []
    assert [t.last_occurrence_time for t in conn.get_tickets(limit=None)] == sorted(
        (t.last_occurrence_time for t in whole), reverse=True)
    ticket_id = only(conn, "b", "appb").ticket_id
    occurrences = conn.get_occurrences(ticket_id, "time", limit=None)
    assert conn.get_occurrences(ticket_id, "time", limit=2, offset=1) == occurrences[1:3]


def test_filters(conn: Connection) -> None:
    _five_tickets(conn)
    conn.record_tickets([rec("x", 100, app="appa", level=9, channel="alpha")])

    def keys(**filters: Any) -> set[str]:
        assert conn.count_tickets(**filters) == len(conn.get_tickets(limit=None, **filters))
        return {t.record_hash for t in conn.get_tickets(limit=None, **filters)}

    assert keys(app_id="appa") == {"a", "x"}
    assert keys(status="solved") == {"e"} and keys(status=TicketStatus.OPEN) == {"a", "b", "c", "d", "x"}
    assert keys(level=14) == {"a", "b"}
    assert keys(channel="alpha") == {"a", "x"}
    assert keys(since=T0 + dt.timedelta(minutes=8)) == {"b", "x"}  # b last at 4 + 4
    assert keys(app_id="appa", level=10, channel="alpha") == {"a"}
    assert keys(app_id="nobody") == set()


@pytest.mark.parametrize(
    "kwargs",
    [{"order_by": "nope"}, {"order_by": "--level"}, {"order_by": "data"}, {"limit": -1},
     {"offset": -1}, {"status": "closed"}, {"level": "high"}, {"since": "yesterday"}],
)
def test_bad_queries_are_invalid_query(conn: Connection, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidQuery):
        conn.get_tickets(**kwargs)


def test_bad_records_fail_alone(conn: Connection) -> None:
    bad_hash = TicketRecord("", "app", T0, 14, "c", "l", "m", {})
    bad_data = TicketRecord("k", "app", T0, 14, "c", "l", "m", {"x": object()})
    too_long = TicketRecord("k", "a" * 81, T0, 14, "c", "l", "m", {})
    nul = TicketRecord("k", "app", T0, 14, "c\x00", "l", "m", {"nul": "\x00 is fine in data"})
    batch = [bad_hash, rec("a"), bad_data, "junk", too_long, nul]
    result = conn.record_tickets(batch)  # type: ignore[arg-type]
    assert result.stored == 1 and sorted(result.failed) == [0, 2, 3, 4, 5]
    assert "app_id" in result.failed[4]
    assert only(conn, "a").occurrence_count == 1
    ticket_id = conn.record_tickets([rec("b", nul="\x00")]).ticket_ids[("app", "b")]
    assert conn.get_occurrences(ticket_id)[0].data["nul"] == "\x00"


def test_unicode_and_nested_data_round_trip(conn: Connection) -> None:
    data = {"nested": {"list": [1, 2.5, None, True]}, "text": "k\u00fcche \u2603 \U0001f600"}
    ticket_id = conn.record_tickets([rec("a", channel="k\u00fcche", **data)]).ticket_ids[("app", "a")]
    assert conn.get_ticket(ticket_id).channel == "k\u00fcche"
    assert conn.get_occurrences(ticket_id)[0].data == {"message": "a at 0", **data}


@pytest.mark.requires(Capability.TICKET_EXPIRY)
def test_expiry_deletes_old_occurrences_and_keeps_counts(conn: Connection) -> None:
    now = dt.datetime.now(UTC)
    old = [TicketRecord("a", "app", now - dt.timedelta(days=d), 14, "c", "l", "m", {"d": d})
           for d in (10, 9, 8)]
    fresh = TicketRecord("a", "app", now - dt.timedelta(minutes=1), 14, "c", "l", "m", {"d": 0})
    ticket_id = conn.record_tickets([*old, fresh]).ticket_ids[("app", "a")]
    before = conn.get_ticket(ticket_id)
    assert conn.clear_expired_occurrences(0) == 0
    assert conn.clear_expired_occurrences(86400, max_count=2) == 2
    assert [o.data["d"] for o in conn.get_occurrences(ticket_id, "time", limit=None)] == [8, 0]
    assert conn.clear_expired_occurrences(86400) == 1
    assert conn.get_ticket(ticket_id) == before
    assert before.occurrence_count == 4


# -- redelivery: a record whose occurrence key is stored changes nothing ------


def keyed(key: str, minutes: int = 0, *, occurrence: str, **kwargs: Any) -> TicketRecord:
    """``rec`` with an occurrence key: the identity of one delivered log record."""
    return dataclasses.replace(rec(key, minutes, **kwargs), occurrence_key=occurrence)


def _state(conn: Connection) -> list[tuple[Ticket, list[Any]]]:
    return [
        (t, sorted((o.time, o.data["message"]) for o in conn.get_occurrences(t.ticket_id, limit=None)))
        for t in conn.get_tickets(order_by="ticket_id", limit=None)
    ]


def test_the_same_batch_recorded_twice_counts_once(conn: Connection) -> None:
    batch = [keyed("a", 5, occurrence="m1"), keyed("a", 1, occurrence="m2"),
             keyed("b", 3, occurrence="m3")]
    first = conn.record_tickets(batch)
    before = _state(conn)
    again = conn.record_tickets(batch)
    assert again.stored == 3 and not again.failed
    assert again.ticket_ids == first.ticket_ids
    assert _state(conn) == before
    assert only(conn, "a").occurrence_count == 2 and only(conn, "b").occurrence_count == 1


def test_duplicates_inside_one_batch_count_once(conn: Connection) -> None:
    # The second "m1" is a redelivery; its other time proves it is not used at all.
    result = conn.record_tickets([keyed("a", 5, occurrence="m1"), keyed("a", -9, occurrence="m1"),
                                  keyed("a", 7, occurrence="m2"), keyed("b", 1, occurrence="m2")])
    assert result.stored == 4 and not result.failed
    ticket = only(conn, "a")
    assert ticket.occurrence_count == 2
    assert ticket.first_occurrence_time == T0 + dt.timedelta(minutes=5)
    assert ticket.last_occurrence_time == T0 + dt.timedelta(minutes=7)
    assert len(conn.get_occurrences(ticket.ticket_id, limit=None)) == 2
    assert conn.count_tickets() == 1  # "b" came only as a redelivery of m2


def test_a_redelivery_changes_no_count_time_or_status_and_new_records_still_do(
    conn: Connection,
) -> None:
    conn.record_tickets([keyed("a", 5, occurrence="m1"), keyed("a", 6, occurrence="m2")])
    ticket_id = only(conn, "a").ticket_id
    conn.solve_ticket(ticket_id)
    solved = conn.get_ticket(ticket_id)
    # Redelivered (with other times, to show they are not looked at): stays solved.
    conn.record_tickets([keyed("a", -60, occurrence="m1"), keyed("a", 60, occurrence="m2")])
    assert conn.get_ticket(ticket_id) == solved
    assert solved.status is TicketStatus.SOLVED and solved.occurrence_count == 2
    assert len(conn.get_occurrences(ticket_id, limit=None)) == 2
    # One redelivery and one new record: only the new one counts and regresses.
    conn.record_tickets([keyed("a", 60, occurrence="m2"), keyed("a", 9, occurrence="m3")])
    regressed = conn.get_ticket(ticket_id)
    assert regressed.status is TicketStatus.REGRESSED and regressed.occurrence_count == 3
    assert regressed.first_occurrence_time == T0 + dt.timedelta(minutes=5)
    assert regressed.last_occurrence_time == T0 + dt.timedelta(minutes=9)
    assert sorted(o.data["message"] for o in conn.get_occurrences(ticket_id, limit=None)) == [
        "a at 5", "a at 6", "a at 9"]


def test_records_without_an_occurrence_key_are_always_new(conn: Connection) -> None:
    record = rec("a", 1)
    conn.record_tickets([record, record])
    conn.record_tickets([record])
    assert only(conn, "a").occurrence_count == 3


def test_a_deleted_tickets_keys_are_forgotten(conn: Connection) -> None:
    conn.record_tickets([keyed("a", 1, occurrence="m1")])
    conn.delete_ticket(only(conn, "a").ticket_id)
    conn.record_tickets([keyed("a", 1, occurrence="m1")])
    assert only(conn, "a").occurrence_count == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "nul\x00", 42])
def test_bad_occurrence_keys_fail_alone(conn: Connection, key: Any) -> None:
    result = conn.record_tickets([keyed("a", occurrence=key), keyed("a", occurrence="k" * 255)])
    assert list(result.failed) == [0] and "occurrence_key" in result.failed[0]
    conn.record_tickets([keyed("a", 1, occurrence="k" * 255)])
    assert only(conn, "a").occurrence_count == 1
