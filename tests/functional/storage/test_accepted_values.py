"""Every driver accepts and refuses exactly the same values, with the same reason.

The rules (:mod:`pipeline.storage.limits`): no NUL and no surrogate code
point (what a JSON ``"\\ud800"`` escape decodes to) in any text; message ids,
event types and trait names of at most 255 characters; at most 4 MiB of
UTF-8 text per event. A refused event fails alone and the rest of its batch
is stored; a filter holding such text is an :class:`InvalidQuery`. Values
right at the limits, astral characters, and a raw notification holding
surrogates or NUL are stored and read back exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pipeline.exceptions import InvalidQuery
from pipeline.models import UTC, Event, TicketRecord, Trait
from pipeline.storage import Capability, Connection, EventFilter
from pipeline.storage.limits import MAX_EVENT_TEXT_BYTES, MAX_TICKET_DATA_BYTES, NAME_LENGTH

T0 = dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
TEXT = Trait.TEXT_TYPE
LONG = "n" * (NAME_LENGTH + 1)
NUL = "contains a NUL character (U+0000)"


def surrogate(code: str) -> str:
    return f"contains U+{code}, a lone surrogate: not Unicode text (UTF-8 cannot encode it)"


def text_of(*traits: Trait) -> Event:
    return Event("m", "t", T0, traits)


#: message id -> (event, the reason every driver gives for refusing it)
REFUSED: dict[str, tuple[Event, str]] = {
    "text-surrogate": (
        Event("text-surrogate", "t", T0, (Trait("name", TEXT, "a\ud800"),)),
        f"trait 'name' value {surrogate('D800')}",
    ),
    "text-split-pair": (  # the two halves of U+1F600 as two code points
        Event("text-split-pair", "t", T0, (Trait("name", TEXT, "\ud83d\ude00"),)),
        f"trait 'name' value {surrogate('D83D')}",
    ),
    "name-surrogate": (
        Event("name-surrogate", "t", T0, (Trait("n\udfff", TEXT, "v"),)),
        f"trait name 'n\\udfff' {surrogate('DFFF')}",
    ),
    "m\udc80": (Event("m\udc80", "t", T0), f"message_id {surrogate('DC80')}"),
    "type-surrogate": (Event("type-surrogate", "t\ud800", T0), f"event_type {surrogate('D800')}"),
    "text-nul": (
        Event("text-nul", "t", T0, (Trait("name", TEXT, "a\x00b"),)),
        f"trait 'name' value {NUL}",
    ),
    "name-nul": (
        Event("name-nul", "t", T0, (Trait("n\x00", TEXT, "v"),)),
        f"trait name 'n\\x00' {NUL}",
    ),
    "m\x00": (Event("m\x00", "t", T0), f"message_id {NUL}"),
    "type-nul": (Event("type-nul", "t\x00", T0), f"event_type {NUL}"),
    LONG: (Event(LONG, "t", T0), "message_id is longer than 255 characters"),
    "type-long": (Event("type-long", LONG, T0), "event_type is longer than 255 characters"),
    "name-long": (
        Event("name-long", "t", T0, (Trait(LONG, TEXT, "v"),)),
        f"trait name {LONG[:40]!r}... is longer than 255 characters",
    ),
    "text-too-big": (
        Event("text-too-big", "t", T0, (Trait("big", TEXT, "x" * MAX_EVENT_TEXT_BYTES),)),
        (
            f"the event's text is {MAX_EVENT_TEXT_BYTES + len('text-too-bigtbig')} bytes of UTF-8, "
            f"more than the {MAX_EVENT_TEXT_BYTES} an event may hold"
        ),
    ),
    "texts-too-big": (  # two halves of the limit, counted in UTF-8 bytes, not characters
        Event(
            "texts-too-big",
            "t",
            T0,
            (
                Trait("a", TEXT, "é" * (MAX_EVENT_TEXT_BYTES // 4)),
                Trait("b", TEXT, "é" * (MAX_EVENT_TEXT_BYTES // 4)),
            ),
        ),
        (
            f"the event's text is {MAX_EVENT_TEXT_BYTES + len('texts-too-bigtab')} bytes of UTF-8, "
            f"more than the {MAX_EVENT_TEXT_BYTES} an event may hold"
        ),
    ),
}


def _at_the_limits() -> list[Event]:
    """Events every driver must store: each value right at a limit, or an edge that is fine."""
    astral = "\U0001f600" * NAME_LENGTH  # 255 characters, 1020 bytes
    head = ("full", "t", "big")
    fill = MAX_EVENT_TEXT_BYTES - sum(map(len, head))
    return [
        Event("é" * NAME_LENGTH, "t", T0),
        Event(astral, astral, T0, (Trait(astral, TEXT, astral),)),
        Event("astral-text", "t", T0, (Trait("v", TEXT, "a\U0001f600\U0001d4b3z"),)),
        Event("full", "t", T0, (Trait("big", TEXT, "y" * fill),)),
        Event(
            "raw-surrogate",
            "t",
            T0,
            (Trait("v", TEXT, "ok"),),
            {"payload": {"half": "a\ud800", "nul": "b\x00", "low": "\udfffz"}},
        ),
    ]


@pytest.mark.requires(Capability.EVENTS)
def test_every_driver_refuses_the_same_events_for_the_same_reason(conn: Connection) -> None:
    """Refused events fail alone; the rest of the batch, edges included, is stored."""
    good = _at_the_limits()
    batch = [event for event, _ in REFUSED.values()] + good
    result = conn.record_events(batch[::2] + batch[1::2])
    assert result.failed == {mid: reason for mid, (_, reason) in REFUSED.items()}
    assert sorted(result.stored) == sorted(e.message_id for e in good)
    stored = {e.message_id: e for e in conn.get_events(EventFilter())}
    assert stored == {e.message_id: e for e in good}
    assert (
        conn.get_events(EventFilter(message_id="full"))[0].traits[0].value
        == good[3].traits[0].value
    )


@pytest.mark.requires(Capability.EVENTS)
def test_an_event_refused_once_is_refused_again_and_never_stored(conn: Connection) -> None:
    """Redelivery gives the same answer; a valid copy of the id is then stored."""
    bad = Event("again", "t", T0, (Trait("v", TEXT, "\udfff"),))
    for _ in range(2):
        assert list(conn.record_events([bad]).failed) == ["again"]
    fixed = Event("again", "t", T0, (Trait("v", TEXT, "\ufffd"),))
    assert conn.record_events([fixed]).stored == ["again"]
    assert conn.get_events(EventFilter()) == [fixed]


BAD_TEXT = {"nul": ("a\x00", NUL), "surrogate": ("a\ud800", surrogate("D800"))}
FILTERS: dict[str, Any] = {
    "event_type": lambda text: (EventFilter(event_type=text), None, "event_type"),
    "message_id": lambda text: (EventFilter(message_id=text), None, "message_id"),
    "admin_proj": lambda text: (EventFilter(admin_proj=text), None, "admin_proj"),
    "trait key": lambda text: (
        EventFilter(traits_filter=[{"key": text, "string": "v"}]),
        None,
        "trait filter key",
    ),
    "trait value": lambda text: (
        EventFilter(traits_filter=[{"key": "k", "string": text, "op": "lt"}]),
        None,
        "trait filter 'k' value",
    ),
    "marker": lambda text: (EventFilter(), {"marker": text}, "marker"),
}


@pytest.mark.requires(Capability.EVENTS)
@pytest.mark.parametrize("bad", sorted(BAD_TEXT))
def test_filters_holding_text_no_driver_can_store_are_invalid_queries(
    conn: Connection, bad: str
) -> None:
    """On every driver the same InvalidQuery, never a database or encoding error."""
    conn.record_events([Event("m", "t", T0, (Trait("k", TEXT, "v"),))])
    text, problem = BAD_TEXT[bad]
    for name, make in FILTERS.items():
        event_filter, pagination, what = make(text)
        with pytest.raises(InvalidQuery) as caught:
            conn.get_events(event_filter, pagination)
        assert str(caught.value) == f"{what} {problem}", name
    reads = {
        "get_trait_types": (lambda: conn.get_trait_types(text), "event_type"),
        "get_traits": (lambda: conn.get_traits(text), "event_type"),
        "get_traits of a trait": (lambda: conn.get_traits("t", text), "trait name"),
    }
    for name, (read, what) in reads.items():
        with pytest.raises(InvalidQuery) as caught:
            read()
        assert str(caught.value) == f"{what} {problem}", name


def _record(**fields: Any) -> TicketRecord:
    values: dict[str, Any] = {
        "record_hash": "k",
        "app_id": "app",
        "time": T0,
        "level": 14,
        "channel": "chan",
        "location": "l.py:1",
        "module": "mod",
        "data": {"message": "boom"},
    }
    values.update(fields)
    return TicketRecord(**values)


@pytest.mark.requires(Capability.TICKETS)
def test_ticket_records_with_surrogates_fail_alone_or_store_their_data(conn: Connection) -> None:
    """Surrogates in a ticket's text fail the record; in its data they are stored as given."""
    records = [
        _record(channel="c\ud800"),
        _record(location="l\udfff"),
        _record(module="m\udc00"),
        _record(app_id="a\ud801"),
        _record(record_hash="h\ud800"),
        _record(record_hash="kept", data={"message": "half \ud800", "nul": "\x00", "k\udfff": 1}),
    ]
    result = conn.record_tickets(records)
    assert result.failed == {
        0: f"channel {surrogate('D800')}",
        1: f"location {surrogate('DFFF')}",
        2: f"module {surrogate('DC00')}",
        3: f"app_id {surrogate('D801')}",
        4: f"record_hash {surrogate('D800')}",
    }
    assert result.stored == 1
    (ticket,) = conn.get_tickets()
    (occurrence,) = conn.get_occurrences(ticket.ticket_id)
    assert occurrence.data == {"message": "half \ud800", "nul": "\x00", "k\udfff": 1}


@pytest.mark.requires(Capability.TICKETS)
def test_ticket_data_over_4_mib_fails_alone_and_right_at_it_is_stored(conn: Connection) -> None:
    """Counted as UTF-8 bytes of the data's JSON (``{"m":"..."}`` takes 8 more)."""
    limit = MAX_TICKET_DATA_BYTES
    result = conn.record_tickets(
        [
            _record(record_hash="over", data={"m": "é" * ((limit - 8) // 2) + "x"}),
            _record(record_hash="full", data={"m": "x" * (limit - 8)}),
        ]
    )
    assert result.failed == {
        0: f"data is {limit + 1} bytes of JSON, more than the {limit} a ticket record may hold"
    }
    assert result.stored == 1
    (ticket,) = conn.get_tickets()
    assert ticket.record_hash == "full"
    assert len(conn.get_occurrences(ticket.ticket_id)[0].data["m"]) == limit - 8


@pytest.mark.requires(Capability.TICKETS)
@pytest.mark.parametrize("bad", sorted(BAD_TEXT))
def test_ticket_filters_holding_text_no_driver_can_store_are_invalid_queries(
    conn: Connection, bad: str
) -> None:
    conn.record_tickets([_record()])
    text, problem = BAD_TEXT[bad]
    for name in ("app_id", "channel"):
        with pytest.raises(InvalidQuery) as caught:
            conn.get_tickets(**{name: text})
        assert str(caught.value) == f"{name} {problem}"
        with pytest.raises(InvalidQuery):
            conn.count_tickets(**{name: text})
