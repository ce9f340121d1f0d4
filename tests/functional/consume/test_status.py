"""``pipeline status`` against the real RabbitMQ and PostgreSQL, up and down.

Exit 0 and a backlog per queue when everything answers; exit 1 naming what
failed when the broker is unreachable, PostgreSQL refuses connections, the
schema is not migrated, or the consumer asked with ``--consumer`` is not
there; exit 2 for a bad configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from oslo_config import cfg

from pipeline.cli import main
from tests import servers
from tests.functional.consume.conftest import (
    AMQP_URL,
    ConsumerProcess,
    Names,
    declare_topology,
    publish_raw,
    wait_for,
)
from tests.functional.consume.scraping import readyz


def write_config(path: Path, names: Names, storage_url: str, *extra: str) -> Path:
    lines = names.config_lines() + ["[database]", f"connection = {storage_url}", *extra]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_status(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["--config-file", str(config), "status", "--timeout", "5", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_all_up_exits_0_and_shows_each_queues_backlog(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    declare_topology(consume_conf)
    publish_raw(names, [b'{"any": "body"}'] * 7)
    config = write_config(tmp_path / "p.conf", names, pg_url)
    status, out = run_status(config, capsys)
    assert status == 0, out
    assert f"queue {names.queue}: 7 messages ready, 0 consumers" in out
    assert f"queue {names.topic}.error: 0 messages ready" in out
    assert f"queue {names.logging}: 0 messages ready" in out
    assert "storage postgresql" in out and "(current))" in out
    assert out.rstrip().endswith("status: ok")
    status, out = run_status(config, capsys, "--format", "json")
    document = json.loads(out)
    assert status == 0 and document["ok"] is True
    assert [check["ok"] for check in document["checks"]] == [True, True]


def test_missing_queues_are_no_failure_before_the_first_start(
    names: Names, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    status, out = run_status(write_config(tmp_path / "p.conf", names, pg_url), capsys)
    assert status == 0, out
    assert f"queue {names.queue}: missing (pipeline consume declares it)" in out


def test_postgresql_refusing_connections_exits_1(
    names: Names, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "p.conf", names, pg_url)
    servers.allow_postgresql_connections(pg_url, False)
    try:
        status, out = run_status(config, capsys)
    finally:
        servers.allow_postgresql_connections(pg_url, True)
    assert status == 1, out
    storage_line = next(line for line in out.splitlines() if line.startswith("storage "))
    assert ": FAILED (StorageUnavailable" in storage_line
    assert "status: FAILED (1 of 2 checks)" in out


def test_an_unreachable_broker_exits_1(
    names: Names, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"amqp://guest:guest@127.0.0.1:{servers.free_port()}//"
    config = write_config(tmp_path / "p.conf", names, pg_url)
    config.write_text(config.read_text().replace(f"transport_url = {AMQP_URL}",
                                                 f"transport_url = {closed}"))
    status, out = run_status(config, capsys)
    assert status == 1, out
    assert "broker amqp://guest:****@127.0.0.1" in out and "FAILED (not reachable" in out
    assert "guest:guest" not in out, "the password is masked"


def test_an_unmigrated_database_exits_1_and_says_run_dbsync(
    names: Names, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with servers.postgresql_database() as empty:
        status, out = run_status(write_config(tmp_path / "p.conf", names, empty), capsys)
    assert status == 1, out
    assert "schema version none, expected" in out and "run pipeline dbsync" in out


def test_consumer_readiness_is_asked_only_with_consumer(
    names: Names, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    port = servers.free_port()
    config = write_config(tmp_path / "status.conf", names, pg_url,
                          "[metrics]", f"listen = 127.0.0.1:{port}")
    assert run_status(config, capsys)[0] == 0, "not asked: nothing runs, still fine"
    status, out = run_status(config, capsys, "--consumer")
    assert status == 1 and f"consumer http://127.0.0.1:{port}/readyz: FAILED" in out
    consumer_process("[metrics]", f"listen = 127.0.0.1:{port}")
    wait_for(lambda: readyz(port)[0] == 200, 60, "consumer ready")
    status, out = run_status(config, capsys, "--consumer")
    assert status == 0, out
    assert f"consumer http://127.0.0.1:{port}/readyz: ok (ready)" in out


def test_a_bad_metrics_address_is_a_configuration_error(
    names: Names, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "p.conf", names, pg_url, "[metrics]", "listen = nowhere")
    status, out = run_status(config, capsys, "--consumer")
    assert status == 2 and "[metrics] listen = 'nowhere'" in out
