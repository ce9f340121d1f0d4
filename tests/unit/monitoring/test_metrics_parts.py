"""The pieces behind /metrics and /readyz: addresses, probes, readiness, reason classes, files."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, values

from pipeline.consume import reasons
from pipeline.convert import decode_notification
from pipeline.convert.tickets import decode_log_record
from pipeline.exceptions import ConfigError, ConversionError, DecodeError, NotANotification
from pipeline.metrics import exporter
from pipeline.metrics.files import ENVIRONMENT, MetricFiles
from pipeline.metrics.probe import StorageProbe
from pipeline.metrics.server import Listener, application, parse_listen
from pipeline.storage import SchemaState, get_connection
from pipeline.storage.impl_memory import Connection as MemoryConnection


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)),
    ("[::1]:9464", ("::1", 9464)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
    (":9464", ("", 9464)),
    ("  ", None),
    ("", None),
])
def test_listen_addresses_parse(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9464", "host", "::1:9464", "h:99999", "h:port", "[x]:1"])
def test_bad_listen_addresses_name_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match=r"\[metrics\] api_listen"):
        parse_listen(text, "[metrics] api_listen")


def test_a_port_in_use_is_a_configuration_error_naming_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = application(CollectorRegistry(), None)
        with pytest.raises(ConfigError, match=rf"\[metrics\] listen: cannot listen on 127.0.0.1:{port}"):
            Listener(("127.0.0.1", port), app, "[metrics] listen")


class SlowStore(MemoryConnection):
    """The memory driver, whose schema question waits until released."""

    def __init__(self) -> None:
        super().__init__("memory://")
        self.release = threading.Event()
        self.asked = 0

    def schema_state(self) -> SchemaState:
        self.asked += 1
        self.release.wait(10)
        return super().schema_state()


def test_a_storage_that_does_not_answer_in_time_is_not_ready_and_is_asked_once() -> None:
    store = SlowStore()
    probe = StorageProbe(0.2, connection=lambda: store)
    try:
        started = time.monotonic()
        first = probe.check()
        second = probe.check()
        assert time.monotonic() - started < 2
        assert not first.ok and not second.ok
        assert "did not answer within 0.2s" in first.detail
        assert store.asked == 1, "a probe in progress is waited for, not started again"
        store.release.set()
        wait = time.monotonic() + 5
        while not (result := probe.check(max_age=0)).ok and time.monotonic() < wait:
            time.sleep(0.05)
        assert result.ok and result.detail == "answered"
    finally:
        store.release.set()
        probe.close()


def test_a_probe_before_the_connection_exists_is_not_ready() -> None:
    probe = StorageProbe(1.0, connection=lambda: None)
    try:
        result = probe.check()
        assert not result.ok and result.detail == "storage not connected yet"
    finally:
        probe.close()


def test_a_probe_by_url_counts_tickets_and_reads_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.sqlite"
    conn = get_connection(url)
    conn.upgrade()
    conn.close()
    probe = StorageProbe(5.0, url=url, tickets=True)
    try:
        result = probe.check()
    finally:
        probe.close()
    assert result.ok and result.schema is not None and result.schema.up_to_date
    assert result.tickets == {"open": 0, "solved": 0, "regressed": 0}


def test_an_unmigrated_database_answers_but_says_so(tmp_path: Path) -> None:
    probe = StorageProbe(5.0, url=f"sqlite:///{tmp_path}/empty.sqlite")
    try:
        result = probe.check()
    finally:
        probe.close()
    assert result.ok and "run pipeline dbsync" in result.detail
    assert result.schema is not None and result.schema.current is None


def _connected(states: dict[tuple[str, str], float]) -> list[object]:
    registry = CollectorRegistry()
    gauge = Gauge("pipeline_broker_connected", "", ["worker", "broker"], registry=registry)
    for (worker, broker), state in states.items():
        gauge.labels(worker, broker).set(state)
    return list(registry.collect())


def test_ready_only_when_every_worker_consumes_on_each_of_its_brokers() -> None:
    a, b = "amqp://a:5672/", "amqp://b:5672/"
    everyone = {("0", a): 1, ("0", b): 1, ("1", a): 1, ("1", b): 1}
    assert exporter.readiness(_connected(everyone), 2, None)[0]  # type: ignore[arg-type]
    ready, body = exporter.readiness(
        _connected({**everyone, ("1", b): 0}), 2, None  # type: ignore[arg-type]
    )
    assert not ready and body["broker"]["not consuming"] == [f"worker 1 on {b}"]
    ready, body = exporter.readiness(
        _connected({("0", a): 1, ("0", b): 1}), 2, None  # type: ignore[arg-type]
    )
    assert not ready and body["broker"]["not consuming"] == ["worker 1 (not started)"]
    # A worker whose second feed has nothing to read has no series for it: still ready.
    one_feed = {("0", a): 1, ("1", a): 1}
    assert exporter.readiness(_connected(one_feed), 2, None)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(("body", "kind"), [
    (b"\xff\xfe", reasons.UNDECODABLE),
    (b"{not json", reasons.UNDECODABLE),
    (b"", reasons.UNDECODABLE),
    (b'["a", "list"]', reasons.NOT_A_NOTIFICATION),
    (b'{"event_type": "x"}', reasons.NOT_A_NOTIFICATION),
    (b'{"oslo.version": "2.0"}', reasons.NOT_A_NOTIFICATION),
    (b'{"oslo.version": "2.0", "oslo.message": "{broken"}', reasons.UNDECODABLE),
    (b'{"message_id": "m", "event_type": "e", "timestamp": "yesterday"}',
     reasons.NOT_A_NOTIFICATION),
])
def test_notification_bodies_get_their_reason_class(body: bytes, kind: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode_notification(body)
    reason = reasons.of_error(raised.value)
    assert reason.kind == kind
    # One text prefix for both classes: readers of the dead-letter queue match on it.
    assert reason.startswith("DecodeError: ")


def test_log_records_that_parse_but_are_no_records_are_not_a_notification() -> None:
    with pytest.raises(NotANotification):
        decode_log_record(b'{"msg": "no level, no time"}')
    with pytest.raises(DecodeError) as raised:
        decode_log_record(b"\xff")
    assert not isinstance(raised.value, NotANotification)


def test_reason_classes_of_conversion_bugs_and_plain_text() -> None:
    assert reasons.of_error(ConversionError("bad level")).kind == reasons.CONVERSION
    bug = reasons.of_error(KeyError("x"))
    assert bug.kind == reasons.UNEXPECTED and bug == "unexpected KeyError: 'x'"
    assert reasons.kind_of(reasons.refused("storage refused ticket: x")) == reasons.STORAGE_REFUSED
    assert reasons.kind_of("some text") == reasons.UNEXPECTED


def test_metric_files_switch_to_multiprocess_mode_and_back(tmp_path: Path) -> None:
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old run")
    before = values.ValueClass
    files = MetricFiles(str(tmp_path))
    try:
        assert not stale.exists(), "a previous run's files are deleted at start"
        assert os.environ[ENVIRONMENT] == str(tmp_path)
        assert getattr(values.ValueClass, "_multiprocess", False)
        Gauge("pipeline_test_gauge", "", ["worker"], registry=None,
              multiprocess_mode="livemax").labels("0").set(7)
        assert glob.glob(str(tmp_path / f"gauge_livemax_{os.getpid()}.db"))
        assert [s.value for f in files.collect() for s in f.samples
                if s.name == "pipeline_test_gauge"] == [7]
        files.process_exited(os.getpid())
        assert not glob.glob(str(tmp_path / f"gauge_livemax_{os.getpid()}.db"))
    finally:
        files.close()
    assert values.ValueClass is before and ENVIRONMENT not in os.environ
    assert tmp_path.exists(), "a directory given in the configuration stays"


def test_a_scrape_passes_over_a_file_not_yet_sized(tmp_path: Path) -> None:
    """A process creates its metric file before sizing it: a scrape meeting
    it empty gives every other process's samples, not an error."""
    from prometheus_client import generate_latest

    files = MetricFiles(str(tmp_path))
    try:
        Gauge("pipeline_test_sized", "", ["worker"], registry=None,
              multiprocess_mode="livemax").labels("0").set(3)
        (tmp_path / "counter_999999.db").write_bytes(b"")  # another process, just started
        assert [s.value for f in files.collect() for s in f.samples
                if s.name == "pipeline_test_sized"] == [3]
        assert b"pipeline_test_sized" in generate_latest(files.registry())
    finally:
        files.close()


def test_a_killed_runs_temporary_directory_is_removed_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL leaves ``pipeline-metrics-<pid>-…`` behind; the next start removes it."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    abandoned = tmp_path / f"pipeline-metrics-{dead.stdout.strip()}-abc"
    abandoned.mkdir()
    (abandoned / "counter_1.db").write_bytes(b"x")
    alive = tmp_path / f"pipeline-metrics-{os.getpid()}-def"
    alive.mkdir()
    unrelated = tmp_path / "pipeline-metrics-notapid"
    unrelated.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    files = MetricFiles()
    try:
        assert not abandoned.exists()
        assert alive.exists() and unrelated.exists()
        assert os.path.basename(files.path).startswith(f"pipeline-metrics-{os.getpid()}-")
    finally:
        files.close()
    assert not os.path.exists(files.path)
