"""A stdlib logging handler that publishes records over AMQP, as logbook's does.

:class:`MessageQueueHandler` does for :mod:`logging` what logbook's
``logbook.queues.MessageQueueHandler`` does: every record is published with
kombu as a JSON dict of logbook's record fields (levels in logbook's
numbers, see :mod:`pipeline.convert.logrecord`) to a queue named
``logging`` by default (kombu's SimpleQueue: a direct exchange and a queue
of that name). Unlike logbook's, each message carries a fresh UUID as its
AMQP ``message_id``: the consumer stores a record redelivered by the broker
only once by it. ``pipeline consume`` turns them into tickets, exactly as it
does logbook's records, so applications without logbook feed the same
pipeline::

    import logging
    from pipeline.amqp_logging import MessageQueueHandler

    logging.getLogger().addHandler(
        MessageQueueHandler("amqp://guest:guest@localhost//", level=logging.ERROR))
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import kombu

from pipeline.convert.logrecord import from_logging

DEFAULT_QUEUE = "logging"


class MessageQueueHandler(logging.Handler):
    """Publish each log record as a logbook-shaped JSON dict to an AMQP queue.

    :param uri: kombu broker URL (``amqp://...``; ``memory://`` for tests).
    :param queue: queue name (``[ticketing] queue`` of the consumer).
    :param level: stdlib level threshold.
    :param app_id: stored in each record's ``extra['app_id']`` so the
        consumer files its tickets under this application.

    A record that cannot be published goes to :meth:`logging.Handler.handleError`
    (printed to stderr), never to the caller.
    """

    def __init__(
        self,
        uri: str | None = None,
        queue: str = DEFAULT_QUEUE,
        level: int = logging.NOTSET,
        app_id: str | None = None,
    ) -> None:
        super().__init__(level)
        self.app_id = app_id
        self.connection = kombu.Connection(uri)
        self.queue = self.connection.SimpleQueue(queue)

    def export_record(self, record: logging.LogRecord) -> dict[str, Any]:
        """The dict published for ``record``."""
        data = from_logging(record)
        if self.app_id is not None:
            data["extra"].setdefault("app_id", self.app_id)
        return data

    def emit(self, record: logging.LogRecord) -> None:
        """Publish one record, its message id a fresh UUID (its occurrence's identity)."""
        try:
            self.queue.put(
                self.export_record(record), serializer="json", message_id=uuid.uuid4().hex
            )
        except Exception:  # noqa: BLE001 - a log handler reports, never raises
            self.handleError(record)

    def close(self) -> None:
        """Close the queue and the broker connection."""
        try:
            self.queue.close()
            self.connection.release()
        finally:
            super().close()
