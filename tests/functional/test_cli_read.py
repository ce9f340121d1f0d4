"""The read commands against real databases: output, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.cli import main
from pipeline.storage import Connection
from tests import servers
from tests.functional.api.conftest import API_DRIVERS, seeded, skip_without_tickets

CLI_DRIVERS = [name for name in API_DRIVERS if name != "memory"]  # memory dies with the process


@pytest.fixture(scope="module", params=CLI_DRIVERS)
def seeded_config(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Connection]]:
    """A config file naming a seeded database of the parametrised driver."""
    directory = tmp_path_factory.mktemp("cli")
    with seeded(request.param, str(directory), request) as conn:
        path = Path(directory, "pipeline.conf")
        path.write_text(f"[database]\nconnection = {conn.url}\n")
        yield str(path), conn


@pytest.fixture
def config_file(seeded_config: tuple[str, Connection]) -> str:
    return seeded_config[0]


@pytest.fixture
def ticket_config_file(seeded_config: tuple[str, Connection]) -> str:
    """The config file, for a driver that stores tickets (skipped otherwise)."""
    skip_without_tickets(seeded_config[1])
    return seeded_config[0]


def run(config_file: str, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["--config-file", config_file, *argv])
    out, err = capsys.readouterr()
    return status, out, err


def run_json(config_file: str, capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    status, out, err = run(config_file, capsys, *argv, "--format", "json")
    assert status == 0, err
    return json.loads(out)


def test_events_list_prints_a_table(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(config_file, capsys, "events", "list")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["GENERATED", "MESSAGE_ID", "EVENT_TYPE", "TRAITS"]
    assert [line.split()[1] for line in lines[2:]] == ["e1", "e2", "e3", "e4", "e5"]
    assert "memory_mb=2048" in lines[2]


@pytest.mark.parametrize(("options", "expected"), [
    (["--trait", "memory_mb:int>=2048"], ["e1", "e2", "e5"]),
    (["--trait", "memory_mb:integer<2048", "--trait", "flavor=m1.size512"], ["e3"]),
    (["--trait", "ratio:float>3.5"], ["e2", "e5"]),
    (["--trait", "flavor!=m1.size512", "--event-type", "compute.instance.create.end"],
     ["e1", "e2"]),
    (["--since", "2026-11-23T10:10:00Z", "--until", "2026-11-23T10:20:00Z"], ["e2", "e3", "e4"]),
    (["--sort", "generated:desc", "--limit", "2"], ["e5", "e4"]),
    (["--sort", "generated:desc", "--limit", "2", "--marker", "e4"], ["e3", "e2"]),
])
def test_events_list_filters(config_file: str, capsys: pytest.CaptureFixture[str],
                             options: list[str], expected: list[str]) -> None:
    events = run_json(config_file, capsys, "events", "list", *options)
    assert [e["message_id"] for e in events] == expected  # type: ignore[union-attr]


def test_events_show_and_json_keeps_types(config_file: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    event = run_json(config_file, capsys, "events", "show", "e1")
    traits = {t["name"]: t["value"] for t in event["traits"]}  # type: ignore[index]
    assert traits["memory_mb"] == 2048 and traits["ratio"] == 2.0
    status, out, _ = run(config_file, capsys, "events", "show", "e5")
    assert status == 0 and "image.upload" in out and '"size": 1' in out


def test_event_types_and_traits(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(config_file, capsys, "event-types") == [
        "compute.instance.create.end", "compute.instance.delete.end",
        "identity.authenticate", "image.upload"]
    kinds = run_json(config_file, capsys, "traits", "compute.instance.create.end")
    assert {"name": "memory_mb", "type": "integer"} in kinds  # type: ignore[operator]
    values = run_json(config_file, capsys, "traits", "compute.instance.create.end", "memory_mb")
    assert sorted(v["value"] for v in values) == [2048, 4096]  # type: ignore[union-attr]
    status, out, _ = run(config_file, capsys, "traits", "image.upload")
    assert status == 0 and "flavor" in out


def test_tickets_list_show(ticket_config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = run_json(ticket_config_file, capsys, "tickets", "list", "--level", "error")
    assert [t["app_id"] for t in tickets] == ["nova", "web"]  # type: ignore[union-attr]
    status, out, _ = run(ticket_config_file, capsys, "tickets", "list", "--app", "glance")
    assert status == 0 and "WARNING" in out and "glance.store" in out
    nova = tickets[0]["ticket_id"]  # type: ignore[index]
    shown = run_json(ticket_config_file, capsys, "tickets", "show", str(nova))
    assert shown["occurrence_count"] == 3  # type: ignore[index]
    assert shown["occurrences"][0]["data"]["message"] == "Instance failed to spawn again"  # type: ignore[index]
    status, out, _ = run(ticket_config_file, capsys, "tickets", "show", str(nova), "--occurrences", "1")
    assert status == 0 and "latest 1 occurrence" in out


def test_tickets_solve_then_delete(ticket_config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = run_json(ticket_config_file, capsys, "tickets", "list", "--app", "web")
    web = str(tickets[0]["ticket_id"])  # type: ignore[index]
    assert run(ticket_config_file, capsys, "tickets", "solve", web)[0] == 0
    solved = run_json(ticket_config_file, capsys, "tickets", "list", "--status", "solved")
    assert [t["app_id"] for t in solved] == ["web"]  # type: ignore[union-attr]
    assert run(ticket_config_file, capsys, "tickets", "delete", web)[0] == 0
    status, _, err = run(ticket_config_file, capsys, "tickets", "show", web)
    assert status == 1 and "not found" in err
    assert run(ticket_config_file, capsys, "tickets", "solve", web)[0] == 1


@pytest.mark.parametrize(("argv", "status"), [
    (["events", "show", "no-such-event"], 1),
    (["events", "list", "--trait", "memory_mb"], 2),
    (["events", "list", "--trait", "memory_mb:blob=1"], 2),
    (["events", "list", "--trait", "memory_mb:int=lots"], 2),
    (["events", "list", "--since", "yesterday"], 2),
    (["events", "list", "--sort", "traits"], 2),
    (["events", "list", "--limit", "0"], 2),
    (["events", "list", "--marker", "no-such-event"], 2),
])
def test_exit_codes(config_file: str, capsys: pytest.CaptureFixture[str],
                    argv: list[str], status: int) -> None:
    code, _, err = run(config_file, capsys, *argv)
    assert code == status, err
    assert err.startswith("pipeline:")


@pytest.mark.parametrize(("argv", "status"), [
    (["tickets", "show", "987654"], 1),
    (["tickets", "delete", "987654"], 1),
    (["tickets", "list", "--level", "loud"], 2),
    (["tickets", "list", "--order-by", "password"], 2),
    (["tickets", "list", "--offset", "-1"], 2),
])
def test_ticket_exit_codes(ticket_config_file: str, capsys: pytest.CaptureFixture[str],
                           argv: list[str], status: int) -> None:
    code, _, err = run(ticket_config_file, capsys, *argv)
    assert code == status, err
    assert err.startswith("pipeline:")


@pytest.mark.parametrize("argv", [["events", "list", "--limit", "many"],
                                  ["tickets", "list", "--status", "closed"],
                                  ["tickets", "show", "abc"], ["traits"]])
def test_argument_errors_exit_2(config_file: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--config-file", config_file, *argv])
    assert exited.value.code == 2



def test_api_command_serves_the_api_and_warns_about_noauth(
    config_file: str, tmp_path: Path
) -> None:
    """``pipeline api`` runs uvicorn on the given port over the configured store."""
    conf = tmp_path / "api.conf"
    conf.write_text(Path(config_file).read_text() + "[api]\nauth_strategy = noauth\n")
    port = servers.free_port()
    log = tmp_path / "api.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())",
             "--config-file", str(conf), "api",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not servers.port_open("127.0.0.1", port, 0.2):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        response = httpx.get(f"http://127.0.0.1:{port}/v2/events", timeout=10)
        assert [e["message_id"] for e in response.json()] == ["e1", "e2", "e3", "e4", "e5"]
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
    assert "auth_strategy = noauth" in log.read_text()
