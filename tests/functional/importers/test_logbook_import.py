"""``pipeline import logbook`` of a database written by logbook 1.10.1's own TicketingHandler.

Counts, first/last times, solved flags, levels, locations and every
occurrence's data come over; afterwards pipeline's handler with
``grouping='logbook'`` adds to the imported tickets instead of making new
ones. (logbook's handler fails on PostgreSQL, so its database is SQLite.)
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import logbook
import pytest
from logbook.ticketing import SQLAlchemyBackend

from pipeline import storage
from pipeline.importers.tickets import EMPTY_TICKET, NOTE_FOLDED, NOTE_REOPENED, NOTE_SOLVED
from pipeline.models import UTC, Ticket, TicketStatus
from pipeline.ticketing import TicketingHandler
from tests import servers
from tests.functional.importers.cli_run import config_file, run
from tests.functional.importers.logbook_source import (
    log_calls,
    logbook_rows,
    write_logbook_database,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty pipeline database."""
    if request.param == "sqlite":
        with servers.sqlite_database(str(tmp_path)) as url:
            yield url
    else:
        with servers.postgresql_database() as url:
            yield url


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def _hash(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


def _by_message(rows: list[dict[str, Any]], app_id: str, start: str) -> dict[str, Any]:
    found = [
        t for t in rows
        if t["app_id"] == app_id and json.loads(t["occurrences"][-1]["data"])["message"].startswith(start)
    ]
    assert len(found) == 1
    return found[0]


def _logbook_source(path: Path) -> list[dict[str, Any]]:
    """Write the source; solve two tickets and thin out two with logbook's tables."""
    url = f"sqlite:///{path}"
    write_logbook_database(url, {"shop": 9, "billing": 5})
    rows = logbook_rows(str(path))
    backend = SQLAlchemyBackend(uri=url)
    for app_id, start in (("shop", "slow request"), ("shop", "lookup failed")):
        backend.solve_ticket(_by_message(rows, app_id, start)["ticket_id"])
    backend.engine.dispose()
    disk = _by_message(rows, "shop", "disk")
    once = _by_message(rows, "billing", "once only")
    with sqlite3.connect(path) as db:  # an operator who deleted old occurrences
        oldest = [o["occurrence_id"] for o in disk["occurrences"][:2]]
        db.execute(f"DELETE FROM logbook_occurrences WHERE occurrence_id IN ({oldest[0]}, {oldest[1]})")
        db.execute("DELETE FROM logbook_occurrences WHERE ticket_id = ?", (once["ticket_id"],))
    return logbook_rows(str(path))


def _pipeline_tickets(url: str, conf: Any) -> dict[tuple[str, str], tuple[Ticket, list[Any]]]:
    conn = storage.get_connection(url, conf)
    try:
        return {
            (t.app_id, t.record_hash): (
                t,
                sorted((o.time, json.dumps(o.data, sort_keys=True))
                       for o in conn.get_occurrences(t.ticket_id, limit=None)),
            )
            for t in conn.get_tickets(limit=None)
        }
    finally:
        conn.close()


def test_logbook_tickets_come_over_and_grouping_logbook_adds_to_them(
    tmp_path: Path, target_url: str, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _logbook_source(tmp_path / "logbook.db")
    config = config_file(tmp_path, target_url)
    assert run(capsys, config, "dbsync")[0] == 0
    status, out = run(capsys, config, "import", "logbook", f"sqlite:///{tmp_path / 'logbook.db'}")
    assert status == 1  # one ticket refused: logbook holds none of its occurrences
    assert f"refused 1: {EMPTY_TICKET}" in out
    assert f"{NOTE_SOLVED}: 2" in out and f"{NOTE_FOLDED}: 2" in out

    imported = _pipeline_tickets(target_url, conf)
    kept = [t for t in rows if t["occurrences"]]
    assert len(imported) == len(kept) == len(rows) - 1
    for row in kept:
        ticket, occurrences = imported[(row["app_id"], _hash(row["record_hash"]))]
        times = [_time(o["time"]) for o in row["occurrences"]]
        assert ticket.occurrence_count == row["occurrence_count"]
        assert ticket.first_occurrence_time == min(times)
        assert ticket.last_occurrence_time == _time(row["last_occurrence_time"]) == max(times)
        assert ticket.solved is bool(row["solved"])
        assert ticket.status is (TicketStatus.SOLVED if row["solved"] else TicketStatus.OPEN)
        assert (ticket.level, ticket.channel, ticket.location, ticket.module) == (
            row["level"], row["channel"], row["location"], row["module"])
        assert occurrences == sorted(
            (_time(o["time"]), json.dumps(json.loads(o["data"]), sort_keys=True))
            for o in row["occurrences"]
        )
    disk = _by_message(rows, "shop", "disk")
    assert disk["occurrence_count"] == len(disk["occurrences"]) + 2  # the two deleted still count

    # The application now logs through pipeline, grouping as logbook did.
    handler = TicketingHandler(target_url, app_id="shop", grouping="logbook")
    with handler.applicationbound():
        log_calls(logbook.Logger("shop.worker"), 100)  # "disk" and "lookup failed" again
    handler.close()
    after = _pipeline_tickets(target_url, conf)
    assert set(after) == set(imported)
    for start, status in (("disk", TicketStatus.OPEN), ("lookup failed", TicketStatus.REGRESSED)):
        row = _by_message(rows, "shop", start)
        key = ("shop", _hash(row["record_hash"]))
        assert after[key][0].occurrence_count == row["occurrence_count"] + 1
        assert after[key][0].status is status
        assert after[key][0].last_occurrence_time > imported[key][0].last_occurrence_time

    # Importing again changes nothing, not even the ticket that fired since it was solved.
    status, out = run(capsys, config, "import", "logbook", f"sqlite:///{tmp_path / 'logbook.db'}")
    assert f"{NOTE_REOPENED}: 1" in out and f"{NOTE_SOLVED}: 1" in out
    assert _pipeline_tickets(target_url, conf) == after


def test_table_prefix_and_app_id_choose_what_is_imported(
    tmp_path: Path, conf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "logbook.db"
    write_logbook_database(f"sqlite:///{source}", {"shop": 4, "billing": 6}, table_prefix="tk_")
    rows = logbook_rows(str(source), prefix="tk_")
    with servers.sqlite_database(str(tmp_path)) as target:
        config = config_file(tmp_path, target)
        assert run(capsys, config, "dbsync")[0] == 0
        status, out = run(capsys, config, "import", "logbook", f"sqlite:///{source}")
        assert status == 2 and out == ""  # no logbook_ tables there
        argv = ["import", "logbook", f"sqlite:///{source}", "--table-prefix", "tk_",
                "--app-id", "billing", "--batch-size", "3"]
        status, out = run(capsys, config, *argv)
        billing = [t for t in rows if t["app_id"] == "billing"]
        occurrences = sum(len(t["occurrences"]) for t in billing)
        assert status == 0
        assert f"occurrences read: {occurrences}; stored (or already there): {occurrences};" in out
        imported = _pipeline_tickets(target, conf)
        assert {key[0] for key in imported} == {"billing"} and len(imported) == len(billing)
        assert sum(t.occurrence_count for t, _ in imported.values()) == occurrences
