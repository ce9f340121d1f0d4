"""How far behind the consumer is: the depth of the queues it reads.

Every ``[metrics] backlog_interval`` seconds the consumer asks the broker,
with a passive ``queue.declare`` on a channel of its own connection, how
many messages are ready in each queue it reads (and in the dead-letter
queue) and how many consumers each has. Passive declares create nothing
and take nothing: unlike a second consumer, they cannot steal messages.
They run on the consumer's thread, because py-amqp connections are not
thread-safe; while one waits for its answer, deliveries on the consuming
channel are dispatched as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.consume.declaring import Declarer

if TYPE_CHECKING:
    from pipeline.metrics.consumer import FeedMetrics

LOG = logging.getLogger(__name__)


class Backlog:
    """Periodic passive looks at a list of queues on one connection."""

    def __init__(self, metrics: FeedMetrics, interval: float) -> None:
        self.metrics = metrics
        self.interval = interval
        self.queues: Sequence[str] = ()
        self._declarer: Declarer | None = None
        self._next = 0.0

    def start(self, connection: Any, queues: Sequence[str]) -> None:
        """Look at ``queues`` on ``connection`` from now on (a new connection)."""
        self.close()
        self._declarer = Declarer(connection, declare=False)
        self.queues = queues
        self._next = 0.0

    def due(self, now: float) -> None:
        """Look at every queue if the interval has passed since the last look."""
        if self._declarer is None or now < self._next:
            return
        self._next = now + self.interval
        errors = tuple(self._declarer.connection.channel_errors)
        for name in self.queues:
            try:
                found = self._declarer.peek(name)
            except errors as err:  # a refused look is no reason to stop consuming
                LOG.debug("could not look at queue %s: %s", name, err)
                continue
            if found is not None:
                self.metrics.queue_depth(name, found.messages or 0, found.consumers or 0)

    def close(self) -> None:
        """Stop looking (the connection is going away); closes the channel."""
        declarer, self._declarer = self._declarer, None
        if declarer is not None:
            declarer.close()
