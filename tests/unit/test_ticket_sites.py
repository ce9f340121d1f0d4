"""The queued handler's call-site table gives what grouping each record anew gives.

:class:`~pipeline.ticket_sites.SiteFields` remembers a call site's key,
location and module; every record the writer thread prepares must still
equal ``ticket_record_of`` of that record (the occurrence key aside), for
every strategy, on the first record of a site and on the later ones.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from pipeline import ticket_sites
from pipeline.exceptions import ConversionError
from pipeline.ticket_backends import ticket_record_of
from pipeline.ticket_batches import MESSAGE_ATTRIBUTE, TicketBatches, record_dict
from pipeline.ticket_sites import SiteFields
from pipeline.ticketing import TicketingHandler
from tests.unit.test_ticket_batches import logbook_records, stdlib_records


def _queued(records: list[Any]) -> list[Any]:
    """``records`` as emit leaves them on the queue (message formatted, frame pulled)."""
    for record in records:
        if isinstance(record, logging.LogRecord):
            record.__dict__[MESSAGE_ATTRIBUTE] = record.getMessage()
        else:
            record.pull_information()
    return records


@pytest.fixture
def handler() -> Any:
    handler = TicketingHandler("memory://")
    yield handler
    handler.close()


def _expected(handler: TicketingHandler, record: Any) -> Any:
    key = handler.hash_record(record)
    return ticket_record_of(record, record_dict(record), key, handler.app_id)


@pytest.mark.parametrize("grouping", ["location", "logbook", "template"])
def test_prepared_records_equal_ticket_record_of_first_and_later_times(
    handler: TicketingHandler, grouping: str
) -> None:
    handler.grouping = grouping
    records = _queued(stdlib_records() + logbook_records())
    batches = TicketBatches(handler, TicketingHandler)
    for _ in range(2):  # the second round finds every site in the table
        prepared = batches.prepare(records)
        assert [record for record, _ in prepared] == records
        assert len({built.occurrence_key for _, built in prepared}) == len(records)
        for record, built in prepared:
            assert built.occurrence_key is not None and len(built.occurrence_key) == 32
            expected = _expected(handler, record)
            assert built == dataclasses.replace(expected, occurrence_key=built.occurrence_key)


def test_a_new_salt_or_strategy_regroups(handler: TicketingHandler) -> None:
    record = _queued(stdlib_records()[:1])[0]
    batches = TicketBatches(handler, TicketingHandler)
    keys = set()
    for salt, grouping in [("one", "location"), ("two", "location"), ("two", "logbook")]:
        handler.hash_salt, handler.grouping = salt, grouping
        (_, built), = batches.prepare([record])
        assert built.record_hash == handler.hash_record(record)
        keys.add(built.record_hash)
    assert len(keys) == 3


def _data(**fields: Any) -> dict[str, Any]:
    data = {"channel": "app", "level": 14, "filename": "/srv/app/views.py", "module": "app.views",
            "func_name": "index", "lineno": 7, "extra": {}}
    return {**data, **fields}


def test_fingerprints_group_by_themselves_at_one_site() -> None:
    sites = SiteFields("salt", "location")
    first = sites.of(_data(extra={"fingerprint": ["one"]}))
    second = sites.of(_data(extra={"fingerprint": ["two"]}))
    plain = sites.of(_data())
    assert len({first[0], second[0], plain[0]}) == 3
    assert sites.of(_data(extra={"fingerprint": ["one"]})) == first


@pytest.mark.parametrize(
    "field, cached, odd", [("lineno", 1, True), ("lineno", 7, 7.0), ("level", 1, True)]
)
def test_values_equal_to_a_cached_site_but_of_another_type_are_checked(
    field: str, cached: int, odd: Any
) -> None:
    """``True == 1`` and ``7.0 == 7`` as dict keys, but such records cannot be grouped."""
    sites = SiteFields("salt", "location")
    sites.of(_data(**{field: cached}))
    with pytest.raises(ConversionError):
        sites.of(_data(**{field: odd}))


def test_the_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticket_sites, "MAX_SITES", 10)
    sites = SiteFields("salt", "location")
    found = [sites.of(_data(lineno=n)) for n in range(25)]
    assert len(sites._sites) <= 10
    assert [sites.of(_data(lineno=n)) for n in range(25)] == found
