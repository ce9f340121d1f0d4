"""oslo.messaging's own Notifier and notification listener, configured as a
cloud's services configure them, for tests beside a real OpenStack bus.

Each client gets a ``ConfigOpts`` of its own with ``[oslo_messaging_rabbit]``
settings as given (nothing set = oslo.messaging's defaults, as devstack
runs), and records every ERROR that oslo.messaging logs meanwhile: a broker
that refuses a declaration makes the notifier log "Could not send
notification" and drop the message, so a test asserts that list is empty.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from oslo_config import cfg

from tests.functional.consume.conftest import AMQP_URL


class ErrorLog(logging.Handler):
    """Keeps the ERROR records oslo.messaging logs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


@contextlib.contextmanager
def oslo_errors() -> Iterator[ErrorLog]:
    """Collect oslo.messaging's error log lines while the block runs."""
    handler = ErrorLog()
    logger = logging.getLogger("oslo_messaging")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _transport(settings: Mapping[str, Any], exchange: str, url: str) -> Any:
    import oslo_messaging  # a test requirement: missing means a broken install

    conf = cfg.ConfigOpts()
    conf([], project="pipeline-test-service")
    rabbit_url = url.replace("amqp://", "rabbit://", 1)
    # The first transport registers oslo.messaging's options on conf; the
    # driver reads them when created, so the one used comes second.
    oslo_messaging.get_notification_transport(conf, url=rabbit_url).cleanup()
    for name, value in settings.items():
        conf.set_override(name, value, "oslo_messaging_rabbit")
    conf.set_override("control_exchange", exchange)
    return oslo_messaging.get_notification_transport(conf, url=rabbit_url)


@contextlib.contextmanager
def notifier(
    settings: Mapping[str, Any],
    exchange: str,
    topic: str,
    *,
    publisher_id: str = "compute.host-9",
    url: str = AMQP_URL,
) -> Iterator[Any]:
    """A service's ``Notifier`` (rabbit driver, v2 envelopes) on ``exchange``."""
    import oslo_messaging

    transport = _transport(settings, exchange, url)
    try:
        yield oslo_messaging.Notifier(
            transport,
            publisher_id=publisher_id,
            driver="messagingv2",
            topics=[topic],
            retry=3,
        )
    finally:
        transport.cleanup()


class Collected:
    """A notification endpoint that keeps the message ids it was given."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        with self._lock:
            self.ids.append(metadata["message_id"])


@contextlib.contextmanager
def listener(
    settings: Mapping[str, Any], exchange: str, topic: str, *, url: str = AMQP_URL
) -> Iterator[Collected]:
    """oslo.messaging's notification listener on ``<topic>.<priority>`` (no pool),
    as Ceilometer's notification agent reads it."""
    import oslo_messaging

    transport = _transport(settings, exchange, url)
    endpoint = Collected()
    server = oslo_messaging.get_notification_listener(
        transport,
        [oslo_messaging.Target(topic=topic, exchange=exchange)],
        [endpoint],
        executor="threading",
    )
    server.start()
    try:
        yield endpoint
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
