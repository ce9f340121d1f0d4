"""The seed's ticketing API: stdlib logging and logbook handlers on real databases.

Every handler test runs twice: with the default queued handler (records are
read back after ``flush()``) and with ``synchronous=True``; both store the
same thing.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
from collections.abc import Iterator
from typing import Any

import logbook
import pytest
import sqlalchemy as sa
from logbook.ticketing import TicketingBaseHandler as LogbookBaseHandler

from pipeline import storage
from pipeline.exceptions import ConfigError, TicketNotFound
from pipeline.models import TicketStatus
from pipeline.ticketing import MongoDBBackend, SQLAlchemyBackend, TicketingHandler
from tests import servers


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """A fresh database; SQLite is given exactly as the seed example does."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            yield "sqlite:///" + str(tmp_path / "myapp-logs.db")
        elif request.param == "postgresql":
            yield stack.enter_context(servers.postgresql_database())
        else:
            yield stack.enter_context(servers.mysql_database())


@pytest.fixture(params=["queued", "synchronous"])
def mode(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Options of the handler under test: the default (queued) or synchronous."""
    return {"synchronous": request.param == "synchronous"}


@pytest.fixture
def stdlib_logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    logger = logging.getLogger(f"ticketing-test.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def emit_disk_errors(logger: logging.Logger, count: int) -> None:
    for n in range(count):
        logger.error("disk %d full", n)  # one call site: one ticket


def test_seed_example_with_stdlib_logging(
    db_url: str, stdlib_logger: logging.Logger, mode: dict[str, Any]
) -> None:
    handler = TicketingHandler(db_url, **mode)
    assert isinstance(handler, logging.Handler)
    stdlib_logger.addHandler(handler)
    emit_disk_errors(stdlib_logger, 3)
    stdlib_logger.warning("other call site")
    try:
        raise ValueError("bad")
    except ValueError:
        stdlib_logger.exception("failed")
    assert handler.flush()
    db = handler.db
    assert db.count_tickets() == 3
    tickets = {t.occurrence_count: t for t in db.get_tickets()}
    disk = tickets[3]
    assert disk.level == 14 and disk.app_id == "generic" and disk.channel == stdlib_logger.name
    assert disk.location.endswith("test_ticketing_api.py:" + disk.location.rsplit(":", 1)[1])
    occurrences = db.get_occurrences(disk.ticket_id, order_by="time")
    assert [o.data["message"] for o in occurrences] == ["disk 0 full", "disk 1 full", "disk 2 full"]
    failed = [t for t in db.get_tickets() if t.ticket_id != disk.ticket_id and t.level == 14]
    data = db.get_occurrences(failed[0].ticket_id)[0].data
    assert data["exception_name"] == "builtins.ValueError" and "Traceback" in data["formatted_exception"]
    handler.close()


def test_seed_example_as_a_pushed_logbook_handler(db_url: str, mode: dict[str, Any]) -> None:
    handler = TicketingHandler(db_url, app_id="shop", bubble=True, **mode)
    log = logbook.Logger("shop.orders")
    with handler.applicationbound():
        for n in range(4):
            log.error("order {} failed", n)  # noqa: PLE1205 - logbook formats with {}
        log.warning("slow")
    handler.push_application()
    try:
        log.error("order {} failed", 99)  # noqa: PLE1205 - another line, another ticket
    finally:
        handler.pop_application()
    log.error("not recorded: the handler is popped")
    assert handler.flush()
    db = handler.db
    assert sorted(t.occurrence_count for t in db.get_tickets()) == [1, 1, 4]
    assert {t.app_id for t in db.get_tickets()} == {"shop"}
    top = db.get_tickets(order_by="-occurrence_count", limit=1)[0]
    assert top.level == logbook.ERROR and top.channel == "shop.orders"
    assert db.get_occurrences(top.ticket_id, limit=1)[0].data["message"] == "order 3 failed"
    handler.close()


def test_logbook_grouping_stores_logbooks_own_hash(
    tmp_path: pathlib.Path, mode: dict[str, Any]
) -> None:
    handler = TicketingHandler(
        "sqlite:///" + str(tmp_path / "t.db"), bubble=True, grouping="logbook", **mode
    )
    capture = logbook.TestHandler(bubble=True)
    with capture.applicationbound(), handler.applicationbound():
        logbook.Logger("x").error("boom")
    expected = LogbookBaseHandler("apphash-generic").hash_record(capture.records[0])
    assert handler.flush()
    assert [t.record_hash for t in handler.db.get_tickets()] == [expected]
    handler.close()


def test_level_and_filter_apply_to_both_kinds_of_records(
    tmp_path: pathlib.Path, stdlib_logger: logging.Logger, mode: dict[str, Any]
) -> None:
    def no_secrets(record: Any, _handler: object) -> bool:
        message = record.getMessage() if isinstance(record, logging.LogRecord) else record.message
        return "secret" not in message

    handler = TicketingHandler("sqlite:///" + str(tmp_path / "t.db"), level="ERROR",
                               filter=no_secrets, **mode)
    stdlib_logger.addHandler(handler)
    stdlib_logger.warning("below the level")
    stdlib_logger.error("a secret")
    stdlib_logger.error("kept")
    with handler.applicationbound():
        logbook.Logger("lb").warning("below the level")
        logbook.Logger("lb").error("another secret")
        logbook.Logger("lb").critical("kept too")
    assert handler.flush()
    messages = sorted(
        o.data["message"] for t in handler.db.get_tickets() for o in handler.db.get_occurrences(t.ticket_id)
    )
    assert messages == ["kept", "kept too"]
    handler.close()


def test_backend_methods(
    tmp_path: pathlib.Path, stdlib_logger: logging.Logger, mode: dict[str, Any]
) -> None:
    handler = TicketingHandler("sqlite:///" + str(tmp_path / "t.db"), **mode)
    stdlib_logger.addHandler(handler)
    emit_disk_errors(stdlib_logger, 2)
    assert handler.flush()
    db = handler.db
    ticket = db.get_tickets()[0]
    assert db.get_ticket(ticket.ticket_id) == ticket
    db.solve_ticket(ticket.ticket_id)
    assert db.get_ticket(ticket.ticket_id).solved is True
    emit_disk_errors(stdlib_logger, 1)
    assert handler.flush()
    assert db.get_ticket(ticket.ticket_id).status is TicketStatus.REGRESSED
    assert len(db.get_occurrences(ticket.ticket_id, limit=2, offset=1)) == 2
    db.delete_ticket(ticket.ticket_id)
    assert db.count_tickets() == 0
    with pytest.raises(TicketNotFound):
        db.get_ticket(ticket.ticket_id)
    record = logging.LogRecord("c", logging.ERROR, "/x/y.py", 3, "m", (), None)
    db.record_ticket(record, {"level": 14, "time": "2026-11-25T10:00:00Z", "message": "m"},
                     b"ab" * 20, "legacy")  # logbook passed the hash as bytes
    assert db.get_tickets()[0].record_hash == "ab" * 20
    handler.close()


def test_table_prefix_and_metadata_keep_tickets_in_their_own_tables(
    tmp_path: pathlib.Path, stdlib_logger: logging.Logger, mode: dict[str, Any]
) -> None:
    url = "sqlite:///" + str(tmp_path / "t.db")
    metadata = sa.MetaData()
    handler = TicketingHandler(url, table_prefix="myapp_", metadata=metadata, **mode)
    stdlib_logger.addHandler(handler)
    emit_disk_errors(stdlib_logger, 2)
    assert handler.flush()
    assert set(metadata.tables) == {"myapp_tickets", "myapp_occurrences"}
    assert isinstance(handler.db, SQLAlchemyBackend) and handler.db.table_prefix == "myapp_"
    assert handler.db.count_tickets() == 1
    shared = storage.get_connection(url)
    shared.upgrade()
    assert shared.count_tickets() == 0  # the driver's own tables stay empty
    shared.close()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM myapp_occurrences")).scalar() == 2
    engine.dispose()
    handler.close()


def test_an_engine_is_accepted_as_uri(
    tmp_path: pathlib.Path, stdlib_logger: logging.Logger, mode: dict[str, Any]
) -> None:
    engine = sa.create_engine("sqlite:///" + str(tmp_path / "t.db"))
    handler = TicketingHandler(engine, backend=SQLAlchemyBackend, **mode)
    stdlib_logger.addHandler(handler)
    emit_disk_errors(stdlib_logger, 1)
    assert handler.flush()
    assert handler.db.count_tickets() == 1
    handler.close()
    engine.dispose()


def test_mongodb_backend_refuses_other_urls(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="mongodb://"):
        TicketingHandler("sqlite:///" + str(tmp_path / "t.db"), backend=MongoDBBackend)


def test_mongodb_backend_records_through_the_mongodb_driver(
    mongodb_server_url: str, stdlib_logger: logging.Logger, mode: dict[str, Any]
) -> None:
    with servers.mongodb_database(mongodb_server_url) as url:
        probe = storage.get_connection(url)
        declares = storage.Capability.TICKETS in probe.capabilities
        probe.close()
        assert declares, "the MongoDB driver must declare tickets"
        handler = TicketingHandler(url, **mode)
        assert isinstance(handler.db, MongoDBBackend)
        stdlib_logger.addHandler(handler)
        emit_disk_errors(stdlib_logger, 3)
        assert handler.flush()
        assert [t.occurrence_count for t in handler.db.get_tickets()] == [3]
        handler.close()


def test_base_handler_hash_matches_logbook_and_takes_a_binary_salt() -> None:
    from pipeline.ticketing import TicketingBaseHandler

    capture = logbook.TestHandler()
    with capture.applicationbound():
        logbook.Logger("x").error("boom")
    record = capture.records[0]
    ours = TicketingBaseHandler(b"salt")
    ours.grouping = "logbook"
    assert ours.hash_record(record) == LogbookBaseHandler("salt").hash_record(record)
    assert ours.hash_record_raw(record).hexdigest() == ours.hash_record(record)
