"""MariaDB's max_allowed_packet: too large is one event's failure, never an outage.

A statement over ``max_allowed_packet`` makes the server hang up (error
1153, or 2006 "server has gone away"), which reads as unavailable storage:
the consumer would requeue the batch forever. These tests run against the
real MariaDB with its own limit (read from the server, 16 MiB by default):
an event too large for it fails alone with a reason, a batch of ordinary
events that adds up past it is stored, and the consumer's writer
dead-letters what storage refuses without a single retry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline import storage
from pipeline.consume.batch import Item, Source
from pipeline.consume.retry import Backoff
from pipeline.consume.stats import Stats
from pipeline.consume.writer import BatchWriter
from pipeline.models import UTC, Event, TicketRecord, Trait
from pipeline.storage import EventFilter
from pipeline.storage.impl_sqlalchemy import packet
from pipeline.storage.impl_sqlalchemy.connection import Connection
from pipeline.storage.limits import MAX_EVENT_TEXT_BYTES
from tests import servers
from tests.unit.consume import fakes

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def mysql() -> Iterator[Connection]:
    """The SQLAlchemy driver on an empty MariaDB database."""
    with servers.mysql_database() as url:
        conn = storage.get_connection(url)
        assert isinstance(conn, Connection)
        try:
            conn.upgrade()
            yield conn
        finally:
            conn.close()


def server_packet(conn: Connection) -> int:
    with conn.engine.connect() as db:
        return int(db.exec_driver_sql("SELECT @@max_allowed_packet").scalar())


def ordinary(count: int, raw_bytes: int = 0) -> list[Event]:
    raw = {"payload": {"blob": "r" * raw_bytes}} if raw_bytes else None
    return [Event(f"ok-{i:03d}", "a.b", T0, (Trait("n", 2, i),), raw) for i in range(count)]


def test_an_event_too_large_for_the_server_fails_alone(mysql: Connection) -> None:
    """A raw notification over max_allowed_packet, and the 20 MB trait of the report."""
    limit = server_packet(mysql)
    over_packet = Event("raw-over", "a.b", T0, raw={"blob": "x" * (limit + 1024)})
    huge_trait = Event("trait-20mb", "a.b", T0, (Trait("t", Trait.TEXT_TYPE, "z" * 20_000_000),))
    batch = ordinary(3)[:2] + [over_packet, huge_trait] + ordinary(3)[2:]
    result = mysql.record_events(batch)  # no StorageUnavailable
    assert sorted(result.stored) == ["ok-000", "ok-001", "ok-002"]
    assert sorted(result.failed) == ["raw-over", "trait-20mb"]
    reason = result.failed["raw-over"]
    assert reason.startswith("raw is ") and reason.endswith(
        f"bytes as a MySQL literal; this server's max_allowed_packet of {limit} bytes cannot carry it"
    )
    assert int(reason.split()[2]) > limit
    assert result.failed["trait-20mb"].endswith(
        f"more than the {MAX_EVENT_TEXT_BYTES} an event may hold"
    )
    assert [e.message_id for e in mysql.get_events(EventFilter())] == ["ok-000", "ok-001", "ok-002"]


def test_a_ticket_record_with_20_mb_of_data_fails_alone(mysql: Connection) -> None:
    records = [
        TicketRecord(key, "app", T0, 14, "c", "l.py:1", "m", {"m": text})
        for key, text in (("small", "boom"), ("huge", "x" * 20_000_000), ("other", "bang"))
    ]
    result = mysql.record_tickets(records)  # no StorageUnavailable
    assert list(result.failed) == [1] and "a ticket record may hold" in result.failed[1]
    assert sorted(t.record_hash for t in mysql.get_tickets()) == ["other", "small"]


def test_a_batch_of_ordinary_events_larger_than_the_packet_is_stored(mysql: Connection) -> None:
    """Each event is small; their multi-row INSERT would not be."""
    limit = server_packet(mysql)
    events = ordinary(64, raw_bytes=limit // 48)  # a third more than the packet in all
    result = mysql.record_events(events)
    assert len(result.stored) == 64 and not result.failed
    assert mysql.get_events(EventFilter(), {"limit": 1, "sort": [("message_id", "desc")]}) == [
        events[-1]
    ]


def test_the_servers_refusal_fails_the_event_alone_when_the_writer_misjudges(
    mysql: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As behind a proxy with a smaller limit: the server answers 1153 and hangs up.

    The writer is made to believe in four times the real limit, so it sends
    the statement; that event fails alone and the connection is replaced.
    """
    limit = server_packet(mysql)
    monkeypatch.setattr(packet, "packet_limit", lambda conn: 4 * limit)
    # Just over the limit: the server reads it all and answers 1153 (far over,
    # it may hang up mid-send, which cannot be told from an outage).
    over = Event("over", "a.b", T0, raw={"blob": "x" * (limit + 32 * 1024)})
    result = mysql.record_events([*ordinary(2), over, *ordinary(4)[2:]])
    assert result.failed == {
        "over": "the server refused the event's statement as larger than its "
        "max_allowed_packet (MySQL error 1153)"
    }
    assert sorted(result.stored) == ["ok-000", "ok-001", "ok-002", "ok-003"]
    assert mysql.record_events(ordinary(5)).stored == ["ok-004"]


@dataclass
class Body:
    body: bytes
    delivery_info: dict[str, Any] = field(default_factory=dict)


def test_the_consumer_dead_letters_what_mariadb_can_never_take_without_retrying(
    mysql: Connection,
) -> None:
    """A 20 MB trait and a JSON "\\ud800" escape: dead letters with reasons, no requeue."""
    bodies = [
        fakes.notification("good-1"),
        json.dumps({**json.loads(fakes.notification("huge")), "publisher_id": "p" * 20_000_000}),
        fakes.notification("half").replace(b'"compute.host1"', b'"compute.\\ud800"'),
        fakes.notification("good-2"),
    ]
    batch = [
        Item(Body(body if isinstance(body, bytes) else body.encode()), Source.NOTIFICATION)
        for body in bodies
    ]
    plan = fakes.translator().plan(batch)
    stats = Stats()
    # Stopping from the start: one attempt only, so an outage-looking error returns None.
    written = BatchWriter(mysql, stats, Backoff(0.01, 0.02)).write(plan, None, lambda: True)
    assert written is not None, "the batch was treated as storage being unavailable"
    assert (written.events, stats.totals.storage_retries) == (2, 0)
    reasons = {json.loads(item.message.body)["message_id"]: r for item, r in written.dead}
    assert sorted(reasons) == ["half", "huge"]
    assert reasons["huge"].startswith("storage refused event: the event's text is ")
    assert reasons["half"] == (
        "storage refused event: trait 'service' value contains U+D800, a lone surrogate: "
        "not Unicode text (UTF-8 cannot encode it)"
    )
    assert sorted(e.message_id for e in mysql.get_events(EventFilter())) == ["good-1", "good-2"]
