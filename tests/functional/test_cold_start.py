"""Cold starts: many processes open the same brand-new database at the same moment.

Eight web workers that each build ``TicketingHandler(url)`` on start, or
``pipeline dbsync`` run from two hosts, all find the schema missing and all
create it. Without a schema lock PostgreSQL answered ``duplicate key value
violates unique constraint "pg_type_typname_nsp_index"`` and MariaDB
``Table 'ticket' already exists`` to most of them. Every process must succeed
and every record must be stored, on every database.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pipeline
from pipeline.storage import Capability, Connection, get_connection
from pipeline.ticketing import SQLAlchemyBackend, TicketingHandler
from tests import servers
from tests.functional.storage.databases import database_url

PROCESSES = 8
#: Where the ``pipeline`` under test is imported from, for subprocesses.
PACKAGE_ROOT = str(Path(pipeline.__file__).resolve().parents[1])
DBSYNCS = 4
APP_ID = "coldstart"
#: Runs ``pipeline`` in a subprocess: imports, says "ready", waits for a line
#: on stdin, so that all the processes reach the database together.
GATED_CLI = (
    "import sys; from pipeline.cli import main; print('ready', flush=True); "
    "sys.stdin.readline(); sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture(params=["postgresql", "mysql", "mongodb", "sqlite"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database nobody has created a schema in yet."""
    with database_url(request.param, str(tmp_path), request) as url:
        yield url


def _reraise(_record: logging.LogRecord) -> None:
    """Stands in for ``Handler.handleError``: the record's write error fails the worker."""
    raise  # noqa: PLE0704 - called by logging inside its except block


def _web_worker(
    url: str, options: dict[str, Any], number: int, barrier: Any, failures: Any
) -> None:
    """One process: wait for all, open a handler on the new database, log one error."""
    try:
        get_connection(url).close()  # drivers imported and the server reachable, not timed
        barrier.wait(timeout=120)
        handler = TicketingHandler(url, app_id=APP_ID, **options)
        handler.handleError = _reraise  # type: ignore[method-assign]
        logger = logging.getLogger("coldstart")
        logger.propagate = False
        logger.addHandler(handler)
        logger.error("worker %d started", number)  # one call site: one ticket
        handler.close()
    except BaseException as err:  # reported to the test, which fails with it
        failures.put((number, repr(err)))
        raise


def _run_together(target: Any, args: tuple[Any, ...], count: int) -> list[str]:
    """Run ``target(*args, n, barrier, failures)`` in ``count`` processes; their errors."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count)
    failures = context.Queue()
    workers = [
        context.Process(target=target, args=(*args, n, barrier, failures)) for n in range(count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    reported = dict(failures.get(timeout=5) for _ in workers if not failures.empty())
    for number, worker in enumerate(workers):
        if worker.exitcode != 0 and number not in reported:
            reported[number] = f"exit code {worker.exitcode}"
    return [f"worker {number}: {error}" for number, error in sorted(reported.items())]


def test_eight_handlers_open_a_new_database_at_once(fresh_url: str) -> None:
    """Eight web workers start together on a new database: all succeed, no record is lost."""
    errors = _run_together(_web_worker, (fresh_url, {}), PROCESSES)
    assert not errors, f"{len(errors)} errors of {PROCESSES} workers:\n" + "\n".join(errors)
    conn = get_connection(fresh_url, require=[Capability.TICKETS])
    try:
        _assert_one_ticket_per_worker(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_eight_handlers_create_their_prefixed_tables_at_once(kind: str) -> None:
    """logbook's ``table_prefix`` option: the handlers' own tables are created once, too."""
    new_database = servers.postgresql_database if kind == "postgresql" else servers.mysql_database
    with new_database() as url:
        errors = _run_together(_web_worker, (url, {"table_prefix": "app_"}), PROCESSES)
        assert not errors, f"{len(errors)} errors of {PROCESSES} workers:\n" + "\n".join(errors)
        backend = SQLAlchemyBackend(uri=url, table_prefix="app_")
        try:
            _assert_one_ticket_per_worker(backend.connection)
        finally:
            backend.close()


def _assert_one_ticket_per_worker(conn: Connection) -> None:
    tickets = conn.get_tickets(limit=None, app_id=APP_ID)
    assert [t.occurrence_count for t in tickets] == [PROCESSES]
    occurrences = conn.get_occurrences(tickets[0].ticket_id, limit=None)
    assert sorted(o.data["message"] for o in occurrences) == sorted(
        f"worker {n} started" for n in range(PROCESSES)
    )


def _gated_dbsync(config: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HOME": str(cwd), "PYTHONPATH": PACKAGE_ROOT}
    return subprocess.Popen(
        [sys.executable, "-c", GATED_CLI, "--config-file", str(config), "dbsync"],
        cwd=cwd, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_concurrent_dbsync_on_a_new_database(fresh_url: str, tmp_path: Path) -> None:
    """``pipeline dbsync`` run from several hosts at once: every run succeeds."""
    config = tmp_path / "pipeline.conf"
    config.write_text(f"[database]\nconnection = {fresh_url}\n")
    runs = [_gated_dbsync(config, tmp_path) for _ in range(DBSYNCS)]
    for run in runs:
        assert run.stdout is not None and run.stdout.readline() == "ready\n"
    for run in runs:
        assert run.stdin is not None
        run.stdin.write("go\n")
        run.stdin.close()
    outcomes = [(run.wait(120), run.stdout.read(), run.stderr.read()) for run in runs]  # type: ignore[union-attr]
    failed = [stderr.strip().splitlines()[-1:] for code, _, stderr in outcomes if code]
    assert not failed, f"{len(failed)} of {DBSYNCS} dbsync runs failed: {failed}"
    assert all("up to date" in out for _, out, _ in outcomes), outcomes
    conn = get_connection(fresh_url)
    try:
        assert conn.count_tickets() == 0  # the schema is there and usable
    finally:
        conn.close()
