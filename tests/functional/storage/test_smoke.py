"""The smallest round trip every driver must pass before the full scenarios."""

from __future__ import annotations

import datetime as dt

from pipeline.models import UTC, Event, Trait
from pipeline.storage import Connection, EventFilter


def test_record_then_read_back_one_event(conn: Connection) -> None:
    event = Event("m-1", "compute.instance.create.end", dt.datetime(2026, 11, 23, 10, tzinfo=UTC),
                  (Trait("memory_mb", Trait.INT_TYPE, 2048),))
    result = conn.record_events([event])
    assert result.stored == ["m-1"]
    assert conn.get_events(EventFilter()) == [event]
