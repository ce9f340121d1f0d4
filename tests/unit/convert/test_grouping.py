"""Grouping log records into tickets: logbook compatibility, portability, templates."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import logbook
import pytest
from logbook.ticketing import TicketingBaseHandler

from pipeline.convert.grouping import grouping_key, mask_message, portable_path
from pipeline.convert.logrecord import from_logging, logbook_level
from pipeline.convert.tickets import (
    decode_log_record,
    notification_record,
    ticket_record,
)
from pipeline.exceptions import ConversionError, DecodeError
from pipeline.models import UTC


def logbook_records(channel: str = "app") -> list[logbook.LogRecord]:
    """Real records emitted through logbook, one with an exception."""
    handler = logbook.TestHandler()
    log = logbook.Logger(channel)
    with handler.applicationbound():
        log.warning("disk {} full", 3)  # noqa: PLE1205 - logbook formats with {}
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("lookup failed for ünïcode")
    return list(handler.records)


def base_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "channel": "nova.compute", "level": 14, "message": "Disk 1 full",
        "filename": "/usr/lib/python3/site-packages/nova/compute/manager.py",
        "lineno": 42, "module": "nova.compute.manager", "func_name": "spawn",
        "time": "2026-11-25T10:00:00.000001Z", "extra": {},
    }
    record.update(overrides)
    return record


@pytest.mark.parametrize("salt", ["apphash-generic", "s3cr\u00e9t", None])
@pytest.mark.parametrize("channel", ["app", "k\u00fcche", ""])
def test_logbook_strategy_reproduces_logbooks_hash(salt: str | None, channel: str) -> None:
    for record in logbook_records(channel):
        expected = TicketingBaseHandler(salt).hash_record_raw(record).hexdigest()
        data = record.to_dict(json_safe=True)
        assert grouping_key(data, salt, "logbook") == expected
        if salt is not None:
            built = ticket_record(data, app_id="generic", salt=salt, grouping="logbook")
            assert built.record_hash == expected


def test_logbook_strategy_default_salt_is_logbooks_default_for_the_app() -> None:
    record = logbook_records()[0]
    expected = TicketingBaseHandler("apphash-shop").hash_record_raw(record).hexdigest()
    built = ticket_record(record.to_dict(json_safe=True), app_id="shop", grouping="logbook")
    assert built.record_hash == expected
    assert built.location == f"{record.filename}:{record.lineno}"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/usr/lib/python3/site-packages/nova/compute/manager.py",
         "/opt/venv/lib/python3.11/site-packages/nova/compute/manager.py"),
        ("/home/alice/src/nova/compute/manager.py", "/srv/deploy/nova/compute/manager.py"),
        ("C:\\Python311\\Lib\\site-packages\\nova\\compute\\manager.py",
         "/usr/local/lib/python3.11/dist-packages/nova/compute/manager.py"),
    ],
)
def test_location_strategy_survives_another_install_prefix(first: str, second: str) -> None:
    one = ticket_record(base_record(filename=first), app_id="a")
    two = ticket_record(base_record(filename=second), app_id="a")
    assert one.record_hash == two.record_hash
    assert one.location == "nova/compute/manager.py:42"


def test_location_strategy_separates_lines_functions_levels_and_channels() -> None:
    keys = {
        ticket_record(base_record(**change), app_id="a").record_hash
        for change in ({}, {"lineno": 43}, {"func_name": "boot"}, {"level": 13},
                       {"channel": "nova.api"})
    }
    assert len(keys) == 5


def test_portable_path_of_a_package_init_and_a_script() -> None:
    assert portable_path("/src/nova/compute/__init__.py", "nova.compute") == "nova/compute/__init__.py"
    assert portable_path("/home/bob/tool.py", "__main__") == "tool.py"
    assert portable_path("", None) == ""


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("Disk 1 full", "Disk <num> full"),
        ("took 3.25s, retry -2", "took <num>s, retry <num>"),
        ("instance 6f2a0c1e-8d3b-4c5a-9e7f-0a1b2c3d4e5f gone", "instance <uuid> gone"),
        ("no route to 10.0.0.12:5672", "no route to <ip>"),
        ("peer fe80::1ff:fe23:4567:890a down", "peer <ip> down"),
        ("cannot open /var/lib/nova/instances/x.img", "cannot open <path>"),
        ("object at 0x7f3a2b1c missing", "object at <hex> missing"),
        ("commit deadbeef42cafe reverted", "commit <hex> reverted"),
        ("user 'bob' and \"eve\" denied", "user <str> and <str> denied"),
        ("GET https://api.example.com/v2/servers?id=7 failed", "GET <url> failed"),
    ],
)
def test_mask_message_replaces_variable_parts(message: str, masked: str) -> None:
    assert mask_message(message) == masked


def test_template_groups_messages_from_different_lines_and_splits_exceptions() -> None:
    def key(**changes: Any) -> str:
        return ticket_record(base_record(**changes), app_id="a", grouping="template").record_hash

    assert key(message="Disk 1 full", lineno=10) == key(message="Disk 2 full", lineno=99)
    assert key(exception_name="ValueError") != key(exception_name="KeyError")
    assert key(message="Disk 1 full") != key(message="Disk 1 missing")
    assert key(level=14) != key(level=15)


def test_fingerprint_overrides_every_strategy() -> None:
    keys = {
        ticket_record(base_record(lineno=line, extra={"fingerprint": ["db", "timeout"]}),
                      app_id="a", grouping=grouping).record_hash
        for line, grouping in ((1, "logbook"), (2, "location"), (3, "template"))
    }
    assert len(keys) == 1
    other = ticket_record(base_record(extra={"fingerprint": ["db", "refused"]}), app_id="a")
    assert other.record_hash not in keys


@pytest.mark.parametrize("fingerprint", ["db", [], [1, 2], {"a": "b"}])
def test_malformed_fingerprint_is_a_conversion_error(fingerprint: object) -> None:
    with pytest.raises(ConversionError, match="fingerprint"):
        ticket_record(base_record(extra={"fingerprint": fingerprint}), app_id="a")


def test_salt_and_app_keep_keys_apart() -> None:
    record = base_record()
    assert (ticket_record(record, app_id="a").record_hash
            != ticket_record(record, app_id="b").record_hash)
    assert (ticket_record(record, app_id="a", salt="x").record_hash
            == ticket_record(record, app_id="b", salt="x").record_hash)
    assert (ticket_record(record, app_id="a", salt="x").record_hash
            != ticket_record(record, app_id="a", salt="y").record_hash)


def test_record_app_id_wins_over_the_default() -> None:
    built = ticket_record(base_record(extra={"app_id": "billing"}), app_id="generic")
    assert built.app_id == "billing"
    assert built.record_hash == ticket_record(base_record(), app_id="billing").record_hash


def test_ticket_record_fields() -> None:
    built = ticket_record(base_record(level="warning"), app_id="a")
    assert built.level == 13
    assert built.time == dt.datetime(2026, 11, 25, 10, 0, 0, 1, tzinfo=UTC)
    assert built.channel == "nova.compute"
    assert built.module == "nova.compute.manager"
    assert built.data["message"] == "Disk 1 full"
    assert len(built.record_hash) == 40 and int(built.record_hash, 16) >= 0


@pytest.mark.parametrize(
    "change", [{"level": "loud"}, {"level": None}, {"time": "yesterday"}, {"lineno": "x"}]
)
def test_bad_record_fields_are_conversion_errors(change: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        ticket_record(base_record(**change), app_id="a")


def test_unknown_grouping_is_a_conversion_error() -> None:
    with pytest.raises(ConversionError, match="grouping"):
        ticket_record(base_record(), app_id="a", grouping="nope")


def test_decode_log_record_accepts_logbook_json_and_rejects_the_rest() -> None:
    record = logbook_records()[0]
    import json
    body = json.dumps(record.to_dict(json_safe=True)).encode()
    assert decode_log_record(body)["message"] == "disk 3 full"
    for bad in (b"\xff", "not json", "[1]", b'{"level": 14}'):
        with pytest.raises(DecodeError):
            decode_log_record(bad)


def test_stdlib_record_converts_to_logbook_shape_and_groups() -> None:
    logger = logging.getLogger("stdlib.app")
    try:
        raise ValueError("bad 7")
    except ValueError:
        record = logger.makeRecord("stdlib.app", logging.ERROR, "/srv/app/mod.py", 12,
                                   "failed %s", ("x",), __import__("sys").exc_info(),
                                   func="work", extra={"request_id": "r1"})
    data = from_logging(record)
    assert data["level"] == 14 and data["message"] == "failed x"
    assert data["exception_name"] == "builtins.ValueError"
    assert data["extra"] == {"request_id": "r1"}
    assert data["time"].endswith("Z")
    built = ticket_record(data, app_id="a")
    assert built.location == "mod.py:12"
    assert [logbook_level(n) for n in (50, 40, 30, 20, 10, 5, 0)] == [15, 14, 13, 11, 10, 9, 0]


def test_error_notifications_group_by_service_event_type_and_exception() -> None:
    def notification(host: str, exception: str) -> dict[str, Any]:
        return {
            "message_id": f"m-{host}", "publisher_id": f"compute.{host}",
            "event_type": "compute.instance.create.error", "priority": "error",
            "timestamp": dt.datetime(2026, 11, 25, 10, tzinfo=UTC),
            "payload": {"nova_object.data": {"fault": {"nova_object.data": {
                "exception": exception, "exception_message": f"on {host}"}}}},
        }

    one = ticket_record(notification_record(notification("h1", "FlavorDiskTooSmall")), app_id="n")
    two = ticket_record(notification_record(notification("h2", "FlavorDiskTooSmall")), app_id="n")
    three = ticket_record(notification_record(notification("h1", "NoValidHost")), app_id="n")
    assert one.record_hash == two.record_hash != three.record_hash
    assert one.level == 14 and one.channel == "compute.h1"
    assert one.data["exception_name"] == "FlavorDiskTooSmall"


def test_logbooks_unpadded_microseconds_are_read_as_logbook_meant_them() -> None:
    record = logbook_records()[0]
    record.time = dt.datetime(2026, 11, 25, 10, 0, 0, 5000)
    data = record.to_dict(json_safe=True)
    assert data["time"] == "2026-11-25T10:00:00.5000Z"  # logbook's own rendering
    assert ticket_record(data, app_id="a").time == dt.datetime(2026, 11, 25, 10, 0, 0, 5000,
                                                               tzinfo=UTC)
    plain = base_record(time="2026-11-25T10:00:00.5Z")  # not from logbook: ISO 8601 as is
    assert ticket_record(plain, app_id="a").time.microsecond == 500000
