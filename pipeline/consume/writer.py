"""Writing one batch to storage: one record_events, one record_tickets, retried.

The batch is written with exactly one ``record_events`` call and one
``record_tickets`` call. When storage is unavailable
(:class:`~pipeline.exceptions.StorageUnavailable`) — or fails in a way we did
not foresee, which is logged with its traceback — nothing is acknowledged:
the same batch is retried after an exponential, jittered pause during which
the caller keeps the broker connection alive. A half that succeeded is not
written again (events are idempotent anyway; ticket occurrences are not).

Records the storage refuses (an invalid trait, a rejected ticket record)
come back as dead letters with the storage's reason. When metrics are on,
the outcome also says which stored events were of which type and which
messages were duplicates (counted per type and per queue).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipeline.consume import reasons
from pipeline.consume.batch import Item, Plan
from pipeline.consume.retry import Backoff, pause
from pipeline.consume.stats import Stats
from pipeline.exceptions import StorageUnavailable
from pipeline.storage import Connection, RecordResult

LOG = logging.getLogger(__name__)


@dataclass
class Written:
    """The outcome of a stored batch.

    ``event_types`` (stored events per type) and ``duplicate_items`` are
    only filled when the writer is asked for details (metrics on).
    """

    events: int = 0
    duplicates: int = 0
    tickets: int = 0
    #: Tickets created, and solved tickets reopened, by the batch's records.
    tickets_created: int = 0
    tickets_regressed: int = 0
    dead: list[tuple[Item, str]] = field(default_factory=list)
    event_types: Counter[str] = field(default_factory=Counter)
    duplicate_items: list[Item] = field(default_factory=list)

    def merge(self, other: Written) -> None:
        """Add ``other``'s outcome to this one."""
        self.events += other.events
        self.duplicates += other.duplicates
        self.tickets += other.tickets
        self.tickets_created += other.tickets_created
        self.tickets_regressed += other.tickets_regressed
        self.dead.extend(other.dead)
        self.event_types.update(other.event_types)
        self.duplicate_items.extend(other.duplicate_items)


class BatchWriter:
    """Stores plans; retries while storage is unavailable."""

    def __init__(self, conn: Connection, stats: Stats, backoff: Backoff) -> None:
        self.conn = conn
        self.stats = stats
        self.backoff = backoff

    def write(
        self,
        plan: Plan,
        keepalive: Callable[[float], None] | None,
        stopping: Callable[[], bool],
    ) -> Written | None:
        """Store ``plan``; None when a stop was requested before it could be stored.

        Retries while not ``stopping()``; once stopping, makes one last
        attempt and gives up (the broker redelivers the messages). A batch
        that fails ``MAX_UNEXPECTED`` times with an error other than
        :class:`StorageUnavailable` is written message by message, and a
        message the storage keeps refusing becomes a dead letter: one
        poisonous message must not hold the queue up forever.
        """
        progress = _Progress(plan)
        unexpected = 0
        while True:
            final = stopping()
            try:
                return self._attempt(plan, progress)
            except StorageUnavailable as err:
                reason = str(err)
            except Exception as err:  # keep the batch, log, retry, then isolate
                LOG.exception("storing a batch failed unexpectedly")
                reason = f"{type(err).__name__}: {err}"
                unexpected += 1
                if unexpected >= MAX_UNEXPECTED and not final:
                    return self._isolate(plan, reason, keepalive, stopping)
            if final:
                LOG.warning(
                    "stopping with storage unavailable (%s): %d messages left "
                    "unacknowledged for redelivery",
                    reason,
                    _size(plan),
                )
                return None
            delay = self.backoff.next_delay()
            self.stats.storage_retry(delay)
            LOG.warning(
                "storage unavailable (%s); batch of %d messages kept unacknowledged, "
                "retrying in %.1fs",
                reason,
                _size(plan),
                delay,
            )
            pause(delay, keepalive, step=0.1, interrupted=stopping)

    def _attempt(self, plan: Plan, progress: _Progress) -> Written:
        started = time.monotonic()
        if progress.events is None:
            progress.events = self.conn.record_events(plan.events)
        if progress.tickets is None:
            progress.tickets = self.conn.record_tickets(plan.tickets)  # type: ignore[attr-defined]
        self.stats.batch_written(time.monotonic() - started)
        self.backoff.reset()
        return _written(
            plan, progress.events, progress.tickets, details=self.stats.metrics is not None
        )

    def _isolate(
        self,
        plan: Plan,
        reason: str,
        keepalive: Callable[[float], None] | None,
        stopping: Callable[[], bool],
    ) -> Written | None:
        """Write ``plan`` one message at a time; dead-letter what storage refuses."""
        singles = _per_message(plan)
        if len(singles) <= 1:
            item = (plan.event_items or plan.ticket_items)[0]
            LOG.error("storage keeps refusing a message; dead-lettering it: %s", reason)
            return Written(dead=[(item, reasons.refused(f"storage error: {reason}"))])
        LOG.warning("writing a failing batch of %d messages one by one", len(singles))
        total = Written()
        for single in singles:
            written = self.write(single, keepalive, stopping)
            if written is None:
                return None
            total.merge(written)
        return total


#: Unexpected (non-transient) failures of one batch before it is split up.
MAX_UNEXPECTED = 3


class _Progress:
    """Which halves of a batch are already written (``None``: not yet)."""

    def __init__(self, plan: Plan) -> None:
        self.events: RecordResult | None = None if plan.events else RecordResult()
        self.tickets: Any = None if plan.tickets else _NO_TICKETS


def _per_message(plan: Plan) -> list[Plan]:
    """One plan per message of ``plan`` (its event and ticket records together)."""
    singles: dict[int, Plan] = {}
    for event, item in zip(plan.events, plan.event_items, strict=True):
        single = singles.setdefault(id(item), Plan())
        single.events.append(event)
        single.event_items.append(item)
    for ticket, item in zip(plan.tickets, plan.ticket_items, strict=True):
        single = singles.setdefault(id(item), Plan())
        single.tickets.append(ticket)
        single.ticket_items.append(item)
    return list(singles.values())


class _NoTickets:
    stored = created = regressed = 0
    failed: ClassVar[dict[int, str]] = {}


_NO_TICKETS = _NoTickets()


def _size(plan: Plan) -> int:
    return len({id(item) for item in (*plan.event_items, *plan.ticket_items)}) + len(plan.dead)


def _written(plan: Plan, events: RecordResult, tickets: Any, *, details: bool) -> Written:
    written = Written(
        events=len(events.stored),
        duplicates=len(events.duplicates),
        tickets=tickets.stored,
        tickets_created=tickets.created,
        tickets_regressed=tickets.regressed,
    )
    by_id: dict[str, Item] = {}
    if events.failed or (details and events.duplicates):
        by_id = {
            str(event.message_id): item
            for event, item in zip(plan.events, plan.event_items, strict=True)
        }
    for message_id, reason in events.failed.items():
        written.dead.append(
            (by_id[message_id], reasons.refused(f"storage refused event: {reason}"))
        )
    for position, reason in tickets.failed.items():
        written.dead.append(
            (plan.ticket_items[position], reasons.refused(f"storage refused ticket: {reason}"))
        )
    if details:
        written.event_types = _stored_types(plan, events)
        written.duplicate_items = [by_id[message_id] for message_id in events.duplicates]
    return written


def _stored_types(plan: Plan, events: RecordResult) -> Counter[str]:
    """Stored events per event type (each stored message id once)."""
    if not events.duplicates and not events.failed:
        return Counter(event.event_type for event in plan.events)
    stored = set(events.stored)
    types: Counter[str] = Counter()
    for event in plan.events:
        if event.message_id in stored:
            stored.discard(event.message_id)
            types[event.event_type] += 1
    return types


@dataclass
class Done:
    """A batch whose storage attempt finished (``written`` None: abandoned on stop)."""

    generation: int
    batch: list[Item]
    plan: Plan
    written: Written | None
    #: Messages of the batch per queue, as given to :meth:`BackgroundWriter.submit`.
    queues: Mapping[str, int] = field(default_factory=dict)


class BackgroundWriter:
    """Store batches on one thread beside the consumer's.

    The consumer thread keeps receiving, decoding and converting the next
    batch (and serving the broker connection: heartbeats) while this thread
    writes the previous one, which overlaps the database's work with ours.
    Only one batch is in flight at a time; results come back in submission
    order and carry the connection ``generation`` they were received on, so
    the consumer never acknowledges on a new connection what it received on
    an old one.
    """

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline-store")
        self._inflight: deque[tuple[Done, Future[Written | None]]] = deque()

    @property
    def busy(self) -> bool:
        """True while a batch is being stored."""
        return bool(self._inflight)

    @property
    def in_flight(self) -> int:
        """Messages of the batches being stored."""
        return sum(len(done.batch) for done, _ in self._inflight)

    def submit(
        self,
        generation: int,
        batch: list[Item],
        plan: Plan,
        stopping: Callable[[], bool],
        queues: Mapping[str, int] | None = None,
    ) -> None:
        """Start storing ``plan`` (the translation of ``batch``; ``queues``: its tally)."""
        future = self._executor.submit(self.writer.write, plan, None, stopping)
        self._inflight.append((Done(generation, batch, plan, None, queues or {}), future))

    def finished(self, wait: bool = False) -> Iterator[Done]:
        """Batches done so far, oldest first (``wait``: also those in flight).

        An exception raised while storing (a bug: storage errors are
        retried inside) is re-raised here, in the consumer's thread.
        """
        while self._inflight and (wait or self._inflight[0][1].done()):
            done, future = self._inflight.popleft()
            done.written = future.result()
            yield done

    def close(self) -> None:
        """Wait for the batch in flight and stop the thread."""
        self._executor.shutdown(wait=True)
