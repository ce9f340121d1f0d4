"""The queued handler stores what the synchronous one stores.

``direct_ticket_record`` skips ``ticket_record_of``'s second grouping and
data copy; for every kind of record it must build the same TicketRecord
(the occurrence key aside, which is fresh for every queued record).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

import logbook
import pytest

from pipeline.ticket_backends import ticket_record_of
from pipeline.ticket_batches import MESSAGE_ATTRIBUTE, direct_ticket_record, record_dict
from pipeline.ticketing import TicketingBaseHandler


def stdlib_records() -> list[logging.LogRecord]:
    site = "/usr/lib/python3/site-packages/nova/compute/manager.py"
    records = [
        logging.LogRecord("nova.compute", logging.ERROR, site, 42, "disk %d full", (3,), None),
        logging.LogRecord("", logging.WARNING, "/home/bob/tool.py", 7, "plain", (), None),
        logging.LogRecord("k\u00fcche", logging.CRITICAL, "", 0, "%(a)s", ({"a": 1},), None),
    ]
    try:
        raise KeyError("k")
    except KeyError:
        records.append(logging.LogRecord("app", logging.ERROR, site, 9, "failed", (), sys.exc_info()))
    with_extra = logging.LogRecord("app", logging.INFO, site, 5, "m", (), None, func="spawn")
    with_extra.app_id = "elsewhere"  # an extra app_id: the handler's app_id wins, as before
    with_extra.fingerprint = ["one", "ticket"]
    queued = logging.LogRecord("app", logging.ERROR, site, 5, "n=%s", ([1],), None)
    queued.__dict__[MESSAGE_ATTRIBUTE] = "n=[1]"
    return [*records, with_extra, queued]


def logbook_records() -> list[Any]:
    capture = logbook.TestHandler()
    log = logbook.Logger("shop.orders")
    with capture.applicationbound():
        log.error("order {} failed", 1)  # noqa: PLE1205 - logbook formats with {}
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("failed")
    return list(capture.records)


def _record_id(record: Any) -> str:
    """A stable test id (object addresses differ between pytest -n workers)."""
    kind = "stdlib" if isinstance(record, logging.LogRecord) else "logbook"
    return f"{kind}-{getattr(record, 'lineno', 0)}-{getattr(record, 'msg', '')!s:.20}"


@pytest.mark.parametrize("grouping", ["location", "logbook", "template"])
@pytest.mark.parametrize("record", stdlib_records() + logbook_records(), ids=_record_id)
def test_direct_ticket_record_equals_ticket_record_of(record: Any, grouping: str) -> None:
    hasher = TicketingBaseHandler("apphash-generic")
    hasher.grouping = grouping
    data = record_dict(record)
    key = hasher.hash_record(record)
    direct = direct_ticket_record(record, data, key, "generic")
    expected = ticket_record_of(record, record_dict(record), key, "generic")
    assert direct.occurrence_key is not None and len(direct.occurrence_key) == 32
    assert direct == dataclasses.replace(expected, occurrence_key=direct.occurrence_key)


def test_each_queued_record_gets_its_own_occurrence_key() -> None:
    record = stdlib_records()[0]
    data = record_dict(record)
    keys = {direct_ticket_record(record, data, "k", "generic").occurrence_key for _ in range(100)}
    assert len(keys) == 100


def test_a_queued_record_keeps_the_message_formatted_in_the_call() -> None:
    """Arguments changed after the log call do not change what is stored."""
    items = [1]
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "items %s", (items,), None)
    record.__dict__[MESSAGE_ATTRIBUTE] = record.getMessage()
    items.append(2)
    assert record_dict(record)["message"] == "items [1]"
    assert record.getMessage() == "items [1, 2]"
