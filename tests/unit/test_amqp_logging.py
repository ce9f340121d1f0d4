"""The stdlib AMQP log handler publishes what logbook's MessageQueueHandler does."""

from __future__ import annotations

import logging
import uuid

import kombu
import logbook
from logbook.queues import MessageQueueHandler as LogbookQueueHandler

from pipeline.amqp_logging import MessageQueueHandler
from pipeline.consume.identity import occurrence_key
from pipeline.convert.tickets import decode_log_record, ticket_record


def _received(queue_name: str) -> list[dict[str, object]]:
    with kombu.Connection("memory://") as conn:
        queue = conn.SimpleQueue(queue_name)
        bodies = []
        while queue.qsize():
            message = queue.get(timeout=1)
            bodies.append(decode_log_record(message.body))
            message.ack()
        queue.close()
    return bodies


def test_records_are_published_as_logbook_shaped_json() -> None:
    name = f"logging-{uuid.uuid4().hex[:8]}"
    handler = MessageQueueHandler("memory://", queue=name, app_id="billing")
    logger = logging.getLogger(f"amqp-test-{name}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("payment %s failed", 42)
        logger.debug("below the logger's default level")
    finally:
        logger.removeHandler(handler)
        handler.close()
    [body] = _received(name)
    assert body["message"] == "payment 42 failed" and body["level"] == 14
    assert body["channel"] == logger.name and body["extra"] == {"app_id": "billing"}
    assert str(body["filename"]).endswith("test_amqp_logging.py")
    built = ticket_record(body, app_id="generic")
    assert built.app_id == "billing" and built.location.startswith("test_amqp_logging.py:")


def test_same_keys_as_logbooks_handler_publishes() -> None:
    name = f"logging-{uuid.uuid4().hex[:8]}"
    ours = MessageQueueHandler("memory://", queue=name)
    logger = logging.getLogger(f"amqp-test-{name}")
    logger.propagate = False
    logger.addHandler(ours)
    theirs = LogbookQueueHandler("memory://", queue=name)
    try:
        logger.error("from stdlib")
        with theirs.applicationbound():
            logbook.Logger("lb").error("from logbook")
    finally:
        logger.removeHandler(ours)
        ours.close()
        theirs.close()
    stdlib_body, logbook_body = _received(name)
    fields = {"channel", "level", "msg", "args", "message", "time", "filename", "lineno",
              "module", "func_name", "exception_name", "exception_message",
              "formatted_exception", "extra", "process", "thread", "thread_name"}
    assert fields <= set(stdlib_body) and fields <= set(logbook_body)
    assert stdlib_body["level"] == logbook_body["level"] == 14
    assert str(stdlib_body["time"]).endswith("Z") and str(logbook_body["time"]).endswith("Z")


def test_a_broker_failure_is_reported_not_raised(capsys: object) -> None:
    handler = MessageQueueHandler("memory://", queue="logging-broken")
    handler.queue.close()
    handler.connection.release()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("broker down")

    handler.queue.put = broken  # type: ignore[method-assign]
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "lost", (), None)
    handler.handle(record)  # must not raise
    assert "broker down" in capsys.readouterr().err  # type: ignore[attr-defined]


def test_each_record_is_published_with_a_fresh_message_id() -> None:
    """The message id is the occurrence's identity: a redelivery of the message
    repeats it, two records (even alike, in one microsecond) never share it."""
    name = f"logging-{uuid.uuid4().hex[:8]}"
    handler = MessageQueueHandler("memory://", queue=name)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "same", (), None)
    try:
        handler.handle(record)
        handler.handle(record)  # byte-identical bodies
    finally:
        handler.close()
    with kombu.Connection("memory://") as conn:
        queue = conn.SimpleQueue(name)
        messages = [queue.get(timeout=1) for _ in range(2)]
        queue.close()
    assert messages[0].body == messages[1].body
    ids = [message.properties.get("message_id") for message in messages]
    assert all(isinstance(i, str) and len(i) == 32 for i in ids) and ids[0] != ids[1]
    assert [occurrence_key(message) for message in messages] == ids
