"""What only PostgreSQL's event layout has: day partitions, expiry by partition, the catalogue.

The scenario and differential suites prove its answers; these tests look at
the partitions and the catalogue behind them, on a real PostgreSQL.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from pipeline import storage
from pipeline.exceptions import ConfigError
from pipeline.models import UTC, Event, Trait
from pipeline.storage import EventFilter
from pipeline.storage.impl_sqlalchemy import pg_events
from pipeline.storage.impl_sqlalchemy.pg_events import range_indexes, reads
from pipeline.storage.query import build_event_query
from tests import servers

DAY = dt.timedelta(days=1)


@pytest.fixture
def pg() -> Iterator[pg_events.PostgreSQLConnection]:
    """The driver on an empty, upgraded PostgreSQL database."""
    with servers.postgresql_database() as url:
        conn = storage.get_connection(url)
        assert isinstance(conn, pg_events.PostgreSQLConnection)
        try:
            conn.upgrade()
            yield conn
        finally:
            conn.close()


def partitions(conn: pg_events.PostgreSQLConnection) -> list[str]:
    """Names of the partitions of ``event``, sorted."""
    with conn.engine.connect() as sql:
        names = sql.execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'event'::regclass"
            )
        ).scalars()
        return sorted(names)


def day_name(when: dt.datetime) -> str:
    return f"event_p{when:%Y%m%d}"


def test_upgrade_adds_the_partitions_of_today_and_the_next_days(pg: pg_events.PostgreSQLConnection) -> None:
    today = dt.datetime.now(UTC)
    assert partitions(pg) == [day_name(today + DAY * n) for n in range(3)]


def test_events_far_apart_get_partitions_of_their_own(pg: pg_events.PostgreSQLConnection) -> None:
    """A row needs a partition: writers add the days of their batch."""
    times = [
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2099, 12, 31, 23, 59, 59, 123456, tzinfo=UTC),
    ]
    batch = [Event(f"e{n}", "a.b", at, (Trait("n", 2, n),)) for n, at in enumerate(times)]
    assert sorted(pg.record_events(batch).stored) == ["e0", "e1"]
    names = partitions(pg)
    assert {"event_p19691231", "event_p20991231"} <= set(names)
    assert not {"event_p19700101", "event_p21000101"} & set(names)
    found = pg.get_events(EventFilter(end_timestamp="1970-01-01T00:00:00Z"))
    assert [e.message_id for e in found] == ["e0"]


def midnight(days_ago: int) -> dt.datetime:
    """UTC midnight ``days_ago`` days before today."""
    today = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - DAY * days_ago


def ttl_for(cutoff: dt.datetime) -> int:
    """The time to live that puts expiry's cutoff at ``cutoff`` (give or take a second)."""
    return int((dt.datetime.now(UTC) - cutoff).total_seconds())


def _spread(now: dt.datetime) -> list[Event]:
    """Five events a day over the last four days; type 'old.only' on the oldest only."""
    batch = []
    for day in range(4):
        for n in range(5):
            at = now - DAY * day - dt.timedelta(hours=n)
            traits = (Trait("n", 2, n), Trait(f"day{day}", 1, "x"))
            batch.append(Event(f"d{day}n{n}", "a.b" if day < 3 else "old.only", at, traits))
    return batch


def test_expiry_drops_whole_days_and_trims_the_edge(pg: pg_events.PostgreSQLConnection) -> None:
    now = midnight(0) + dt.timedelta(hours=12)
    assert len(pg.record_events(_spread(now)).stored) == 20
    before = set(partitions(pg))
    # The cutoff falls on the day before yesterday at 09:30, after two of its events.
    assert pg.clear_expired_data(ttl_for(midnight(2) + dt.timedelta(hours=9, minutes=30))) == 7
    assert set(partitions(pg)) == before - {day_name(midnight(3))}
    left = {e.message_id for e in pg.get_events(EventFilter())}
    assert left == {f"d{d}n{n}" for d in range(3) for n in range(5)} - {"d2n3", "d2n4"}
    assert pg.get_event_types() == ["a.b"]
    assert pg.get_trait_types("old.only") == []
    names = {item["name"] for item in pg.get_trait_types("a.b")}
    assert names == {"n", "day0", "day1", "day2"}


def test_expiry_never_deletes_more_than_max_count(pg: pg_events.PostgreSQLConnection) -> None:
    """A day wholly expired but larger than what is left is trimmed, oldest first, not dropped."""
    pg.record_events(_spread(midnight(0) + dt.timedelta(hours=12)))
    assert pg.clear_expired_data(ttl_for(midnight(2)), max_count=3) == 3
    assert day_name(midnight(3)) in partitions(pg)
    left = {e.message_id for e in pg.get_events(EventFilter(event_type="old.only"))}
    assert left == {"d3n0", "d3n1"}
    assert pg.get_event_types() == ["a.b", "old.only"]


def test_a_trimmed_day_keeps_the_catalogue_rows_its_events_still_back(
    pg: pg_events.PostgreSQLConnection,
) -> None:
    early = Event("early", "t", midnight(5) + dt.timedelta(hours=3), (Trait("gone", 3, 1.5),))
    late = Event("late", "t", midnight(5) + dt.timedelta(hours=20), (Trait("kept", 1, "v"),))
    pg.record_events([early, late])
    assert [t["name"] for t in pg.get_trait_types("t")] == ["gone", "kept"]
    assert pg.clear_expired_data(ttl_for(midnight(5) + dt.timedelta(hours=12))) == 1
    assert pg.get_trait_types("t") == [{"name": "kept", "data_type": 1}]
    assert pg.get_event_types() == ["t"]


def test_a_late_event_finds_its_dropped_day_again(pg: pg_events.PostgreSQLConnection) -> None:
    """Expiry in another process dropped a partition this one still knew of."""
    old = dt.datetime.now(UTC) - 10 * DAY
    pg.record_events([Event("first", "a.b", old)])
    other = storage.get_connection(pg.url)
    try:
        assert other.clear_expired_data(5 * 86400) == 1
    finally:
        other.close()
    assert day_name(old) not in partitions(pg)
    assert pg.record_events([Event("late", "a.b", old)]).stored == ["late"]
    assert [e.message_id for e in pg.get_events(EventFilter())] == ["late"]
    assert pg.get_event_types() == ["a.b"]


def test_a_message_id_stored_under_another_time_is_a_duplicate(pg: pg_events.PostgreSQLConnection) -> None:
    """Ids are unique across partitions although no index can say so."""
    at = dt.datetime(2026, 11, 20, tzinfo=UTC)
    assert pg.record_events([Event("m", "a.b", at)]).stored == ["m"]
    again = pg.record_events([Event("m", "a.b", at + 5 * DAY), Event("n", "a.b", at)])
    assert again.duplicates == ["m"] and again.stored == ["n"]
    single = pg.record_events([Event("m", "a.b", at - DAY)])
    assert single.duplicates == ["m"]
    assert [e.generated for e in pg.get_events(EventFilter(message_id="m"))] == [at]


def test_every_query_is_planned_for_its_own_values(pg: pg_events.PostgreSQLConnection) -> None:
    """psycopg prepares a statement run five times; a generic plan cannot estimate a
    trait containment, so the driver's sessions plan each query for its values."""
    with pg.engine.connect() as sql:
        assert sql.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
        assert sql.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar() == "0"


def _write_together(
    conn: storage.Connection, batch: list[Event], start: threading.Barrier
) -> storage.RecordResult:
    start.wait()
    return conn.record_events(batch)


def test_two_writers_of_one_id_at_different_times_store_it_once(
    pg: pg_events.PostgreSQLConnection,
) -> None:
    """Two different events sharing a message id, written at the same moment by two
    processes into two partitions: exactly one is stored, the other is a duplicate."""
    other = storage.get_connection(pg.url)
    at = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
    try:
        for round_ in range(5):
            ids = [f"r{round_}-{n:03d}" for n in range(200)]
            batches = (
                [Event(m, "a.b", at) for m in ids],
                [Event(m, "a.b", at + 3 * DAY) for m in reversed(ids)],
            )
            start = threading.Barrier(2)
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                results = list(pool.map(_write_together, (pg, other), batches, (start, start)))
            assert sorted(results[0].stored + results[1].stored) == ids
            assert sorted(results[0].duplicates + results[1].duplicates) == ids
    finally:
        other.close()
    stored = [e.message_id for e in pg.get_events(EventFilter())]
    assert len(stored) == len(set(stored)) == 1000


def test_an_expired_event_sent_again_is_stored_again(pg: pg_events.PostgreSQLConnection) -> None:
    """Expiry deletes events with their message ids; an event older than the cutoff
    that arrives after expiry is stored, and is then a duplicate like any other."""
    old = midnight(10) + dt.timedelta(hours=6)
    pg.record_events([Event("gone", "a.b", old), Event("late", "a.b", old)])
    pg.record_events([Event(f"keep{n}", "a.b", midnight(1)) for n in range(3)])
    assert pg.clear_expired_data(ttl_for(midnight(5))) == 2
    with pg.engine.connect() as sql:
        ids = set(sql.exec_driver_sql("SELECT message_id FROM event_message").scalars())
    assert ids == {"keep0", "keep1", "keep2"}
    assert pg.record_events([Event("gone", "a.b", old)]).stored == ["gone"]
    assert pg.record_events([Event("gone", "a.b", old + DAY)]).duplicates == ["gone"]
    assert [e.generated for e in pg.get_events(EventFilter(message_id="gone"))] == [old]


def test_a_message_id_left_behind_by_an_interrupted_expiry_is_taken_over(
    pg: pg_events.PostgreSQLConnection,
) -> None:
    """An id row older than the expiry horizon whose event is gone does not make its
    event a duplicate; one whose event is there (a late event) does."""
    old = midnight(10) + dt.timedelta(hours=6)
    pg.record_events([Event("first", "a.b", midnight(1))])
    pg.clear_expired_data(ttl_for(midnight(5)))  # sets the horizon
    pg.record_events([Event("late", "a.b", old), Event("orphan", "a.b", old)])
    with pg.engine.begin() as sql:  # as if expiry stopped before forgetting its ids
        sql.exec_driver_sql("DELETE FROM event WHERE message_id = 'orphan'")
    again = pg.record_events([Event("late", "a.b", old), Event("orphan", "a.b", old - DAY)])
    assert (again.stored, again.duplicates) == (["orphan"], ["late"])
    found = {e.message_id: e.generated for e in pg.get_events(EventFilter())}
    assert found == {"first": midnight(1), "late": old, "orphan": old - DAY}


def _range_indexes(conn: pg_events.PostgreSQLConnection) -> list[str]:
    with conn.engine.connect() as sql:
        return sorted(
            sql.exec_driver_sql(
                "SELECT indexname FROM pg_indexes "
                "WHERE tablename = 'event' AND indexname LIKE 'ix_event_range_%%'"
            ).scalars()
        )


def test_upgrade_indexes_the_configured_range_traits(conf: cfg.ConfigOpts) -> None:
    """Defaults without a configuration; the configured list with one, names with quotes
    and per cents included; a second upgrade adds nothing; a malformed entry is refused."""
    with servers.postgresql_database() as url:
        plain = storage.get_connection(url)
        try:
            plain.upgrade()
            assert _range_indexes(plain) == sorted(
                range_indexes.index_name(name, dtype)
                for name, dtype in range_indexes.parse(range_indexes.DEFAULT)
            )
        finally:
            plain.close()
        listed = ["o'k%:int", "ratio:float", "ok:datetime"]
        conf.set_override("postgresql_range_traits", listed, group="database")
        configured = storage.get_connection(url, conf)
        try:
            configured.upgrade()
            configured.upgrade()
            names = set(_range_indexes(configured))
            assert len(names) == len(range_indexes.DEFAULT) + len(listed)
            assert range_indexes.index_name("o'k%", Trait.INT_TYPE) in names
            conf.set_override("postgresql_range_traits", ["memory_mb:bytes"], group="database")
            with pytest.raises(ConfigError, match="memory_mb:bytes"):
                configured.upgrade()
        finally:
            configured.close()


def test_a_selective_trait_range_is_answered_from_its_index(conf: cfg.ConfigOpts) -> None:
    """The planner finds the range index under the expression the reads compare, for
    every type (text by code point), and the answers are those of the documents."""
    listed = ["name:text", "n:int", "r:float", "at:datetime"]
    conf.set_override("postgresql_range_traits", listed, group="database")
    at = dt.datetime(2026, 11, 20, tzinfo=UTC)
    with servers.postgresql_database() as url:
        conn = storage.get_connection(url, conf)
        try:
            conn.upgrade()
            batch = [
                Event(f"m{n:05d}", "a.b", at + dt.timedelta(seconds=n), (
                    Trait("name", 1, f"n{n:05d}"), Trait("n", 2, n), Trait("r", 3, n / 4),
                    Trait("at", 4, at + dt.timedelta(minutes=n)),
                ))
                for n in range(5000)
            ]
            conn.record_events(batch)
            with conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as sql:
                sql.exec_driver_sql("ANALYZE event_p20261120")
            top = {"name": ("string", "n04999"), "n": ("integer", 4999), "r": ("float", 4999 / 4),
                   "at": ("datetime", (at + dt.timedelta(minutes=4999)).isoformat())}
            for key, (type_name, value) in top.items():
                trait_filter = {"key": key, "op": "ge", type_name: value}
                found = conn.get_events(EventFilter(traits_filter=[trait_filter]), {"limit": 100})
                assert [e.message_id for e in found] == ["m04999"]
                query = build_event_query(EventFilter(traits_filter=[trait_filter]), {"limit": 100})
                with conn.engine.connect() as sql:
                    statement = reads.select_events(query).compile(sql)
                    plan = "\n".join(
                        sql.exec_driver_sql("EXPLAIN " + str(statement), statement.params).scalars()
                    )
                assert "Index Cond" in plan and f"'{key}'" in plan.split("Index Cond")[1], plan
        finally:
            conn.close()
