"""Per-message outcomes of a batch and the retrying storage write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.consume.batch import Item, Source
from pipeline.consume.retry import Backoff
from pipeline.consume.stats import Stats
from pipeline.consume.writer import BatchWriter
from pipeline.exceptions import StorageUnavailable
from pipeline.models import TicketResult
from pipeline.storage import RecordResult
from tests.unit.consume import fakes


@dataclass
class Body:
    body: bytes
    delivery_info: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


def items(*bodies: bytes, source: Source = Source.NOTIFICATION) -> list[Item]:
    return [Item(Body(b), source) for b in bodies]


def test_plan_sorts_messages_into_events_tickets_dead_and_dropped() -> None:
    batch = items(
        fakes.notification("a"),
        b"\xff not json",
        fakes.notification("b", bad=True),
        fakes.notification("c", event_type="drop.me"),
        fakes.notification("d", priority="error"),
    ) + items(fakes.log_record(), b"{}", source=Source.LOG_RECORD)
    plan = fakes.translator().plan(batch)
    assert [e.message_id for e in plan.events] == ["a", "d"]
    assert [i.message.body for i in plan.event_items] == [batch[0].message.body, batch[4].message.body]
    assert len(plan.tickets) == 2, "the error notification and the log record"
    assert plan.ticket_items == [batch[4], batch[5]]
    assert plan.dropped == 1
    reasons = {id(item): reason for item, reason in plan.dead}
    assert set(reasons) == {id(batch[1]), id(batch[2]), id(batch[6])}
    assert reasons[id(batch[1])].startswith("DecodeError")
    assert reasons[id(batch[2])] == "ConversionError: payload marked bad"


def test_an_unconvertible_error_notification_stores_nothing_of_it() -> None:
    plan = fakes.translator().plan(items(fakes.notification("x", priority="error", bad=True)))
    assert not plan.events and not plan.tickets and len(plan.dead) == 1


class FlakyStorage:
    """Our storage interface, unavailable for the first ``outages`` calls."""

    capabilities = frozenset()

    def __init__(self, outages: int = 0, fail_tickets: bool = False) -> None:
        self.outages = outages
        self.fail_tickets = fail_tickets
        self.event_calls: list[list[str]] = []
        self.ticket_calls = 0

    def _maybe_down(self) -> None:
        if self.outages:
            self.outages -= 1
            raise StorageUnavailable("connection refused")

    def record_events(self, events: list[Any]) -> RecordResult:
        self._maybe_down()
        self.event_calls.append([e.message_id for e in events])
        return RecordResult(stored=[e.message_id for e in events])

    def record_tickets(self, records: list[Any]) -> TicketResult:
        if self.fail_tickets:
            self.fail_tickets = False
            raise StorageUnavailable("ticket table locked")
        self.ticket_calls += 1
        return TicketResult(stored=len(records))


def writer(storage: FlakyStorage) -> tuple[BatchWriter, Stats]:
    stats = Stats()
    return BatchWriter(storage, stats, Backoff(initial=0.01, maximum=0.02)), stats  # type: ignore[arg-type]


def test_storage_outage_retries_the_same_batch_until_it_is_stored() -> None:
    storage = FlakyStorage(outages=3)
    batch_writer, stats = writer(storage)
    plan = fakes.translator().plan(items(fakes.notification("a"), fakes.notification("b")))
    pauses: list[float] = []
    written = batch_writer.write(plan, pauses.append, lambda: False)
    assert written is not None and written.events == 2
    assert storage.event_calls == [["a", "b"]], "one record_events call once storage is back"
    assert stats.totals.storage_retries == 3 and stats.totals.batches == 1
    assert pauses, "the pause kept the broker connection served"


def test_a_half_already_written_is_not_written_again() -> None:
    storage = FlakyStorage(fail_tickets=True)
    batch_writer, _ = writer(storage)
    plan = fakes.translator().plan(items(fakes.notification("a", priority="error")))
    written = batch_writer.write(plan, None, lambda: False)
    assert written is not None and written.tickets == 1
    assert storage.event_calls == [["a"]] and storage.ticket_calls == 1


def test_stop_during_outage_gives_up_after_one_last_attempt() -> None:
    storage = FlakyStorage(outages=100)
    batch_writer, _ = writer(storage)
    plan = fakes.translator().plan(items(fakes.notification("a")))
    assert batch_writer.write(plan, None, lambda: True) is None
    assert storage.outages == 99


def test_records_the_storage_refuses_become_dead_letters() -> None:
    class Refusing(FlakyStorage):
        def record_events(self, events: list[Any]) -> RecordResult:
            return RecordResult(stored=["a"], failed={"b": "trait 'x': bad int"})

    batch_writer, _ = writer(Refusing())
    plan = fakes.translator().plan(items(fakes.notification("a"), fakes.notification("b")))
    written = batch_writer.write(plan, None, lambda: False)
    assert written is not None
    assert [(i.message.body, r) for i, r in written.dead] == [
        (plan.event_items[1].message.body, "storage refused event: trait 'x': bad int")
    ]


def test_background_writer_returns_batches_in_order_with_their_generation() -> None:
    from pipeline.consume.writer import BackgroundWriter

    storage = FlakyStorage(outages=2)
    batch_writer, _ = writer(storage)
    background = BackgroundWriter(batch_writer)
    translator = fakes.translator()
    try:
        first = items(fakes.notification("a"))
        second = items(fakes.notification("b"), b"junk")
        background.submit(1, first, translator.plan(first), lambda: False)
        background.submit(2, second, translator.plan(second), lambda: False)
        assert background.busy
        done = list(background.finished(wait=True))
    finally:
        background.close()
    assert [(d.generation, d.batch) for d in done] == [(1, first), (2, second)]
    assert [d.written.events for d in done if d.written] == [1, 1]
    assert len(done[1].plan.dead) == 1
    assert not background.busy


def test_background_writer_reraises_a_bug_in_the_consumer_thread() -> None:
    import pytest

    from pipeline.consume.writer import BackgroundWriter

    class Broken(BatchWriter):
        def write(self, *args: Any) -> None:
            raise RuntimeError("bug")

    background = BackgroundWriter(Broken(FlakyStorage(), Stats(), Backoff()))  # type: ignore[arg-type]
    batch = items(fakes.notification("a"))
    try:
        background.submit(0, batch, fakes.translator().plan(batch), lambda: False)
        with pytest.raises(RuntimeError, match="bug"):
            list(background.finished(wait=True))
    finally:
        background.close()


def test_a_converter_bug_dead_letters_that_message_only() -> None:
    translator = fakes.translator()

    class Buggy(fakes.SimpleConverter):
        def to_event(self, notification: dict[str, Any]) -> Any:
            if notification["message_id"] == "boom":
                raise KeyError("oops")
            return super().to_event(notification)

    translator.converter = Buggy()
    plan = translator.plan(items(fakes.notification("a"), fakes.notification("boom")))
    assert [e.message_id for e in plan.events] == ["a"]
    assert [reason for _, reason in plan.dead] == ["unexpected KeyError: 'oops'"]


def test_a_message_storage_keeps_refusing_is_isolated_and_dead_lettered() -> None:
    class Poisoned(FlakyStorage):
        def record_events(self, events: list[Any]) -> RecordResult:
            if any(e.message_id == "poison" for e in events):
                raise RuntimeError("driver bug on this event")
            return super().record_events(events)

    storage = Poisoned()
    batch_writer, _ = writer(storage)
    plan = fakes.translator().plan(
        items(fakes.notification("a"), fakes.notification("poison"), fakes.notification("b"))
    )
    written = batch_writer.write(plan, None, lambda: False)
    assert written is not None
    assert written.events == 2
    assert sorted(mid for call in storage.event_calls for mid in call) == ["a", "b"]
    assert [(i.message.body, r) for i, r in written.dead] == [
        (plan.event_items[1].message.body, "storage error: RuntimeError: driver bug on this event")
    ]
