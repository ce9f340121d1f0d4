"""Which queue each delivered message came from, and a stored batch's outcome.

The consumer counts per batch, not per message: :class:`Accounting` tallies
a batch's messages per queue when it is handed to storage and builds the
:class:`~pipeline.consume.stats.Outcome` of an acknowledged one (per queue
and per event type only when metrics are on: without them nothing here
walks the messages).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from oslo_config import cfg

from pipeline.consume.batch import Item, Source
from pipeline.consume.stats import Outcome
from pipeline.consume.writer import Done, Written


class Accounting:
    """Queue names of deliveries and per-queue tallies for one consumer."""

    def __init__(self, conf: cfg.ConfigOpts, detailed: bool) -> None:
        self.detailed = detailed
        self._pool: str = conf.notification.pool or ""
        self._log_queue = str(conf.ticketing.queue)

    def queue_of(self, item: Item) -> str:
        """The queue ``item`` was delivered from."""
        # Each notification queue is bound with its own name as routing key,
        # except the pool queue, which receives them all.
        if item.source is Source.LOG_RECORD:
            return self._log_queue
        if self._pool:
            return self._pool
        info = item.message.delivery_info or {}
        return str(info.get("routing_key") or "")

    def tally(self, items: Iterable[Item]) -> Counter[str]:
        """Messages per queue among ``items`` (empty when not detailed)."""
        if not self.detailed:
            return Counter()
        # queue_of inlined, with a plain dict: this runs over every message of
        # every batch. (kombu's Message always has a delivery_info dict.)
        log_record, log_queue, pool = Source.LOG_RECORD, self._log_queue, self._pool
        counts: dict[str, int] = {}
        get = counts.get
        for item in items:
            if item.source is log_record:
                key = log_queue
            else:
                key = pool or item.message.delivery_info.get("routing_key") or ""
            counts[key] = get(key, 0) + 1
        return Counter(counts)

    def outcome(self, done: Done, written: Written) -> Outcome:
        """What the acknowledged batch ``done`` did."""
        outcome = Outcome(
            len(done.batch),
            written.events,
            written.duplicates,
            written.tickets,
            done.plan.dropped,
            tickets_created=written.tickets_created,
            tickets_regressed=written.tickets_regressed,
        )
        if self.detailed:
            outcome.queues = done.queues
            outcome.event_types = written.event_types
            if written.duplicate_items:
                outcome.duplicate_queues = self.tally(written.duplicate_items)
            if done.plan.dropped:
                outcome.dropped_queues = self.tally(_dropped_items(done))
        return outcome


def _dropped_items(done: Done) -> list[Item]:
    """Notifications of ``done`` that became no event and no dead letter: dropped."""
    kept = {id(item) for item in done.plan.event_items}
    kept.update(id(item) for item, _ in done.plan.dead)
    return [
        item for item in done.batch if item.source is Source.NOTIFICATION and id(item) not in kept
    ]
