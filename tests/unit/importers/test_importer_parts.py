"""The importers' pure parts: progress line, summary, read-ahead, conversions."""

from __future__ import annotations

import datetime as dt
import gc
import io
import threading
from collections.abc import Iterator

import pytest

from pipeline.importers.collection import FIRST_THRESHOLD, fewer_collections
from pipeline.importers.events import NOTE_AT_LIMIT, NOTE_NULL, to_event
from pipeline.importers.logbook import LogbookOccurrence, LogbookTicket
from pipeline.importers.panko import PankoEvent, raw_of
from pipeline.importers.prefetch import prefetched
from pipeline.importers.progress import Progress
from pipeline.importers.summary import ImportSummary
from pipeline.importers.tickets import occurrence_key, ticket_key, to_record
from pipeline.models import UTC, Trait

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_done_rate_and_time_left_in_place_on_a_terminal() -> None:
    now = [100.0]
    stream = Tty()
    progress = Progress(1000, "events", stream, interval=0.5, clock=lambda: now[0])
    now[0] = 102.0
    progress.advance(250)
    assert stream.getvalue() == (
        "\revents 250/1,000   25%  125/s  ETA 0:00:06  elapsed 0:00:02\x1b[K"
    )
    progress.advance(10)  # no time passed: not redrawn
    assert stream.getvalue().count("\r") == 1
    progress.finish()
    assert stream.getvalue().endswith("elapsed 0:00:02\x1b[K\n")


def test_progress_in_a_log_prints_a_line_every_quiet_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(10, "events", stream, quiet_interval=10, clock=lambda: now[0])
    for second in range(1, 25):
        now[0] = float(second)
        progress.advance(0)
    assert stream.getvalue().count("\n") == 2 and "\r" not in stream.getvalue()


def test_summary_lines() -> None:
    summary = ImportSummary("events", read=5, stored=3, already_there=1)
    summary.refuse("bad trait")
    summary.note("texts", 2)
    assert summary.lines() == [
        "events read: 5; stored: 3; already there: 1; refused: 1",
        "  refused 1: bad trait",
        "texts: 2",
    ]
    unknown = ImportSummary("occurrences", read=2, stored=2, already_there=None)
    assert unknown.lines() == ["occurrences read: 2; stored (or already there): 2; refused: 0"]


def test_prefetched_keeps_order_and_raises_the_readers_error_in_place() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("source lost")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="source lost"):
        seen.extend(prefetched(pages()))
    assert seen == [1, 2]


def test_prefetched_stops_its_thread_when_the_consumer_stops() -> None:
    before = threading.active_count()
    read = []

    def pages() -> Iterator[int]:
        for number in range(1000):
            read.append(number)
            yield number

    for page in prefetched(pages(), depth=2):
        if page == 3:
            break
    assert threading.active_count() == before
    assert len(read) <= 3 + 2 + 2  # at most depth ahead (and one in hand)


def test_to_event_types_notes_and_refusals() -> None:
    summary = ImportSummary("events")
    item = PankoEvent(1, "m1", "a.b", T0, "{}", [("t", 1, "x" * 255), ("n", 2, None), ("i", 2, 7)])
    event = to_event(item, summary)
    assert event.raw is None
    assert event.traits == (Trait("i", 2, 7), Trait("t", 1, "x" * 255))  # by name
    assert summary.notes == {NOTE_AT_LIMIT: 1, NOTE_NULL: 1}
    for broken, reason in (
        (item._replace(message_id=None), "message_id"),
        (item._replace(generated=None), "generated"),
        (item._replace(event_type=None), "event type"),
    ):
        with pytest.raises(ValueError, match=reason):
            to_event(broken, summary)
    assert raw_of('{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError, match="JSON object"):
        raw_of("[1]")


def _ticket(**changes: object) -> LogbookTicket:
    fields: dict[str, object] = {
        "ticket_id": 1, "record_hash": b"ab12", "level": 14, "channel": "c",
        "location": "f.py:3", "module": "m", "app_id": "shop", "last_occurrence_time": T0,
        "occurrence_count": 5, "solved": False, "stored": 2, "last_occurrence_id": 9,
        "latest_time": T0,
    }
    fields.update(changes)
    return LogbookTicket(**fields)  # type: ignore[arg-type]


def test_logbook_records_fold_the_missing_count_into_the_last_occurrence() -> None:
    ticket = _ticket()
    first = to_record(ticket, LogbookOccurrence(4, 1, T0.replace(tzinfo=None), '{"m": 1}'))
    last = to_record(ticket, LogbookOccurrence(9, 1, T0.replace(tzinfo=None), '{"m": 2}'))
    assert (first.count, last.count) == (1, 4)  # 5 counted, 2 stored
    assert first.record_hash == "ab12" and first.time == T0 and last.data == {"m": 2}
    assert ticket_key(_ticket(record_hash="ab12", app_id=None)) == ("generic", "ab12")
    with pytest.raises(ValueError, match="JSON object"):
        to_record(ticket, LogbookOccurrence(4, 1, T0, "[]"))


def test_occurrence_keys_depend_on_content_not_on_where_it_was_read() -> None:
    occurrence = LogbookOccurrence(4, 1, T0, '{"m": 1}')
    key = occurrence_key("shop", "ab12", occurrence)
    assert key == occurrence_key("shop", "ab12", occurrence) and key.startswith("logbook:")
    assert key != occurrence_key("shop", "ab12", occurrence._replace(data='{"m": 2}'))
    assert len(key) <= 255


def test_fewer_collections_raises_the_first_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with fewer_collections():
            assert gc.get_threshold() == (FIRST_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(0, 10, 10)  # automatic collection off: stays off
        with fewer_collections():
            assert gc.get_threshold() == (0, 10, 10)
        with pytest.raises(KeyError), fewer_collections():
            raise KeyError("the import failed")
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)
