"""What only the MongoDB driver has: its layout limits, indexes, errors and CLI.

The shared scenario suite covers the behaviour every driver shares; these
tests cover what is specific to MongoDB against the test server.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator

import pymongo
import pytest
from oslo_config import cfg

from pipeline import cli, storage
from pipeline.exceptions import ConfigError, InvalidQuery, StorageUnavailable
from pipeline.models import INT64_MAX, INT64_MIN, UTC, Event, TicketRecord, Trait
from pipeline.storage import Connection, EventFilter
from tests import servers

NOW = dt.datetime.now(UTC).replace(microsecond=654321)


@pytest.fixture
def mongo_url(mongodb_server_url: str) -> Iterator[str]:
    with servers.mongodb_database(mongodb_server_url) as url:
        yield url


@pytest.fixture
def mongo(mongo_url: str, conf: cfg.ConfigOpts) -> Iterator[Connection]:
    conn = storage.get_connection(mongo_url, conf)
    conn.upgrade()
    try:
        yield conn
    finally:
        conn.close()


def _indexes(url: str, collection: str = "events") -> dict[str, dict[str, object]]:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(url)
    try:
        return dict(client.get_default_database()[collection].index_information())
    finally:
        client.close()


def test_values_round_trip_with_their_bson_types(mongo: Connection) -> None:
    event = Event("m-1", "t", NOW, (
        Trait("min", Trait.INT_TYPE, INT64_MIN), Trait("max", Trait.INT_TYPE, INT64_MAX),
        Trait("f", Trait.FLOAT_TYPE, 2.5e-300), Trait("s", Trait.TEXT_TYPE, "ünï\u2603" * 300),
        Trait("d", Trait.DATETIME_TYPE, dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
    ), {"payload": {"nested": [1, 2.5, None, True, "x"]}, "publisher_id": "compute.h1"})
    assert mongo.record_events([event]).stored == ["m-1"]
    (back,) = mongo.get_events(EventFilter())
    assert back.traits == tuple(sorted(event.traits, key=lambda t: t.name))  # read back by name
    assert (back.message_id, back.generated, back.raw) == (event.message_id, event.generated,
                                                           event.raw)
    types = {t.name: type(t.value) for t in back.traits}
    assert types == {"min": int, "max": int, "f": float, "s": str, "d": dt.datetime}
    assert back.generated.tzinfo == UTC


def test_raw_bson_cannot_hold_is_kept_as_json(mongo: Connection, mongo_url: str) -> None:
    """A 70-bit integer is valid JSON but not BSON: the event is stored, raw as JSON text."""
    event = Event("big", "t", NOW, raw={"payload": {"huge": 2**70, "ok": [1, "x"]}})
    assert mongo.record_events([event, Event("small", "t", NOW, raw={"n": 1})]).stored == [
        "big", "small"]
    assert mongo.get_events(EventFilter(message_id="big")) == [event]
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongo_url)
    try:
        stored = client.get_default_database()["events"].find_one({"_id": "big"})
    finally:
        client.close()
    assert stored is not None and "raw" not in stored and "raw_json" in stored


def test_unencodable_event_fails_alone(mongo: Connection) -> None:
    """Text that is not valid UTF-8 (a lone surrogate) cannot be BSON: that event fails alone.

    The shared validation refuses it before the driver, as on every driver.
    """
    good = Event("good", "t", NOW)
    bad = Event("bad", "t", NOW, (Trait("name", Trait.TEXT_TYPE, "half \ud800 pair"),))
    result = mongo.record_events([bad, good])
    assert result.stored == ["good"]
    assert "U+D800, a lone surrogate" in result.failed["bad"]
    assert [e.message_id for e in mongo.get_events(EventFilter())] == ["good"]


def test_query_values_bson_cannot_encode_are_invalid_queries(mongo: Connection) -> None:
    with pytest.raises(InvalidQuery):
        mongo.get_events(EventFilter(event_type="half \ud800"))
    with pytest.raises(InvalidQuery):
        mongo.get_traits("half \ud800")


def test_duplicates_across_batches_are_reported_and_not_stored_twice(mongo: Connection) -> None:
    first = mongo.record_events([Event("a", "t", NOW), Event("b", "t", NOW)])
    second = mongo.record_events([Event("b", "t2", NOW), Event("c", "t", NOW)])
    assert (first.stored, second.stored, second.duplicates) == (["a", "b"], ["c"], ["b"])
    assert [e.event_type for e in mongo.get_events(EventFilter(message_id="b"))] == ["t"]


def test_expiry_deletes_oldest_first_within_max_count(mongo: Connection) -> None:
    old = [Event(f"old-{i}", "t", NOW - dt.timedelta(days=10, seconds=i)) for i in range(5)]
    mongo.record_events([*old, Event("new", "t", NOW)])
    assert mongo.clear_expired_data(86400, max_count=2) == 2
    left = {e.message_id for e in mongo.get_events(EventFilter())}
    assert left == {"old-0", "old-1", "old-2", "new"}  # old-4, old-3 were the oldest
    assert mongo.clear_expired_data(86400) == 3
    assert mongo.get_event_types() == ["t"]


def test_upgrade_is_idempotent_and_creates_the_query_indexes(
    mongo: Connection, mongo_url: str
) -> None:
    mongo.upgrade()
    indexes = _indexes(mongo_url)
    assert {"event_type_generated", "generated_message_id", "trait_name_value"} <= set(indexes)
    assert "generated_ttl" not in indexes


def test_ttl_index_follows_the_options(mongo_url: str, conf: cfg.ConfigOpts) -> None:
    conf.set_override("mongodb_ttl_index", True, "database")
    conf.set_override("event_time_to_live", 3600, "database")
    conn = storage.get_connection(mongo_url, conf)
    try:
        conn.upgrade()
        assert _indexes(mongo_url)["generated_ttl"]["expireAfterSeconds"] == 3600
        conf.set_override("event_time_to_live", 60, "database")
        conn.upgrade()
        assert _indexes(mongo_url)["generated_ttl"]["expireAfterSeconds"] == 60
        conf.set_override("mongodb_ttl_index", False, "database")
        conn.upgrade()
        assert "generated_ttl" not in _indexes(mongo_url)
    finally:
        conn.close()


def test_unreachable_server_is_storage_unavailable() -> None:
    url = f"mongodb://127.0.0.1:{servers.free_port()}/x?serverSelectionTimeoutMS=300"
    with pytest.raises(StorageUnavailable, match="unavailable"):
        storage.get_connection(url)


def test_invalid_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"invalid MongoDB URL .mongodb://u:\*\*\*\*@127"):
        storage.get_connection("mongodb://u:secret@127.0.0.1:99999/db")


def test_database_defaults_to_pipeline(mongodb_server_url: str) -> None:
    conn = storage.get_connection(mongodb_server_url.rstrip("/") + "/")
    try:
        assert conn._db.name == "pipeline"  # type: ignore[attr-defined]
    finally:
        conn.close()


def test_dbsync_and_expire_through_the_cli(
    mongo_url: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "pipeline.conf"
    config.write_text(
        f"[database]\nconnection = {mongo_url}\nevent_time_to_live = 3600\n"
        "events_delete_batch_size = 2\nmongodb_ttl_index = true\n"
    )
    assert cli.main(["--config-file", str(config), "dbsync"]) == 0
    assert _indexes(mongo_url)["generated_ttl"]["expireAfterSeconds"] == 3600
    assert _indexes(mongo_url, "tickets")["app_record_hash"]["unique"] is True
    assert "ticket_time" in _indexes(mongo_url, "occurrences")
    conn = storage.get_connection(mongo_url)
    try:
        old = [Event(f"old-{i}", "t", NOW - dt.timedelta(hours=2, seconds=i)) for i in range(5)]
        conn.record_events([*old, Event("new", "t", NOW)])
        assert cli.main(["--config-file", str(config), "expire"]) == 0
        assert "deleted 5 events" in capsys.readouterr().out
        assert [e.message_id for e in conn.get_events(EventFilter())] == ["new"]
    finally:
        conn.close()


def test_server_going_away_mid_session_is_storage_unavailable() -> None:
    """What the consumer relies on to requeue instead of acking: a lost server is transient."""
    if servers.MONGO_URL:
        pytest.skip("needs a server of its own to stop; PIPELINE_TEST_MONGO is shared")
    with servers.mongodb_server() as server_url:
        conn = storage.get_connection(f"{server_url}/gone?serverSelectionTimeoutMS=500")
        conn.upgrade()
        assert conn.record_events([Event("before", "t", NOW)]).stored == ["before"]
    # The server has been terminated by leaving the block.
    try:
        with pytest.raises(StorageUnavailable):
            conn.record_events([Event("after", "t", NOW)])
        with pytest.raises(StorageUnavailable):
            conn.get_events(EventFilter())
        with pytest.raises(StorageUnavailable):
            conn.record_tickets([TicketRecord("h", "app", NOW, 14, "c", "l", "m", {})])
        with pytest.raises(StorageUnavailable):
            conn.get_tickets()
    finally:
        conn.close()
