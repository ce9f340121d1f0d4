"""``pipeline demo`` end to end: a fresh directory, no config, no broker.

The summary's numbers are checked against the SQLite file itself, read with
the standard ``sqlite3`` module rather than through pipeline's driver.
"""

from __future__ import annotations

import os
import pathlib
import re
import sqlite3
import subprocess
import sys
import time

from pipeline.service import prepare_service

COUNT = 300


def _section(out: str, title: str) -> list[str]:
    lines = out.split(title, 1)[1].splitlines()[1:]
    return lines[: lines.index("")] if "" in lines else lines


def _run_demo(cwd: pathlib.Path) -> tuple[str, float]:
    script = pathlib.Path(sys.executable).with_name("pipeline")
    env = {**os.environ, "HOME": str(cwd)}  # no ~/.pipeline/pipeline.conf of the tester
    started = time.monotonic()
    done = subprocess.run([str(script), "demo", "--count", str(COUNT)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr  # the progress bar reached the end
    return done.stdout, time.monotonic() - started


def test_demo_summary_matches_the_database(tmp_path: pathlib.Path) -> None:
    out, seconds = _run_demo(tmp_path)
    assert seconds < 60
    database = tmp_path / "pipeline.sqlite"
    assert f"Database: {database}" in out
    published = re.search(r"Published (\d+) notifications and (\d+) log records", out)
    assert published and int(published[1]) == COUNT
    log_records = int(published[2])
    db = sqlite3.connect(database)

    by_type = dict(db.execute(
        'SELECT t."desc", COUNT(*) FROM event e JOIN event_type t ON e.event_type_id = t.id '
        'GROUP BY t."desc"'))
    printed = {}
    for line in _section(out, "Events by type:"):
        count, name = line.split(None, 1)
        printed[name] = int(count)
    assert printed.pop("events in total") == COUNT == sum(by_type.values())
    assert printed == by_type
    assert len(by_type) >= 10  # several services, many event types

    tickets = {row[0]: row[1:] for row in db.execute(
        "SELECT ticket_id, occurrence_count, first_occurrence_time, last_occurrence_time "
        "FROM ticket")}
    total = re.search(r"Top tickets \((\d+) tickets in total\)", out)
    assert total and int(total[1]) == len(tickets) >= 5
    rows = [line.split() for line in _section(out, "Top tickets")[1::2]]
    assert len(rows) == 5
    for ticket_id, count, _level, first_day, first_time, last_day, last_time, *_ in rows:
        stored_count, first, last = tickets[int(ticket_id)]
        assert int(count) == stored_count
        assert (f"{first_day} {first_time}", f"{last_day} {last_time}") == (first[:19], last[:19])
        occurrences = db.execute("SELECT COUNT(*) FROM ticket_occurrence WHERE ticket_id = ?",
                                 (int(ticket_id),)).fetchone()[0]
        assert occurrences == stored_count
    assert [int(row[1]) for row in rows] == sorted((c for c, _, _ in tickets.values()),
                                                   reverse=True)[:5]
    # Every log record and every error notification became one occurrence.
    errors = sum(n for name, n in by_type.items() if name.endswith(".error"))
    assert sum(c for c, _, _ in tickets.values()) == log_records + errors


def test_running_the_demo_again_adds_to_the_same_database(tmp_path: pathlib.Path) -> None:
    _run_demo(tmp_path)
    out, _ = _run_demo(tmp_path)
    assert f"{2 * COUNT:7d}  events in total" in out


def test_without_configuration_the_demo_writes_one_for_browsing_it_with_the_api(
    tmp_path: pathlib.Path,
) -> None:
    out, _ = _run_demo(tmp_path)
    assert "pipeline --config-file pipeline-demo.conf api" in out
    conf = prepare_service(["--config-file", str(tmp_path / "pipeline-demo.conf")])
    assert conf.database.connection == f"sqlite:///{tmp_path / 'pipeline.sqlite'}"
    assert (conf.api.host, conf.api.auth_strategy) == ("127.0.0.1", "noauth")
