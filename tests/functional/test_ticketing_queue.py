"""The queued (default) ``TicketingHandler`` on real databases.

What an application sees: a log call that only queues the record, whatever
the database does; nothing lost while the queue holds, an exact count of
what was dropped when it did not; everything written by ``close()``, at
exit, and by forked children through writers of their own.

Timings are reported (``record_property`` and the captured output) with
sanity bounds that a handler writing inside the call cannot meet; the
strict figures are benchmarks/tickets.py's (``--handlers``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pipeline
from pipeline.storage import Capability, get_connection
from pipeline.ticketing import TicketingHandler
from tests import servers

#: Where the ``pipeline`` under test is imported from, for subprocesses.
PACKAGE_ROOT = str(Path(pipeline.__file__).resolve().parents[1])
BURST = 20_000
OUTAGE_SECONDS = 10.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    with servers.postgresql_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            yield stack.enter_context(servers.sqlite_database(str(tmp_path)))
        else:
            yield stack.enter_context(servers.postgresql_database())


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of the test's own whose records reach only the handlers the test adds."""
    log = logging.getLogger(f"queue-test.{request.node.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


@pytest.fixture
def writer_messages(caplog: pytest.LogCaptureFixture) -> Callable[[str], int]:
    """How many of the writer's log messages start with a text."""
    caplog.set_level(logging.INFO, "pipeline.ticketing")

    def count(start: str) -> int:
        return sum(
            r.name == "pipeline.ticketing" and r.getMessage().startswith(start)
            for r in caplog.records
        )

    return count


def stored_messages(url: str) -> list[str]:
    """The message of every stored occurrence."""
    conn = get_connection(url, require=[Capability.TICKETS])
    try:
        return [
            occurrence.data["message"]
            for ticket in conn.get_tickets(limit=None)
            for occurrence in conn.get_occurrences(ticket.ticket_id, limit=None)
        ]
    finally:
        conn.close()


def report(request: pytest.FixtureRequest, **figures: Any) -> None:
    for name, value in figures.items():
        request.node.user_properties.append((name, value))
    print(f"{request.node.name}: {figures}")


@contextlib.contextmanager
def refused(url: str) -> Iterator[None]:
    """PostgreSQL refuses every connection to the database of ``url`` meanwhile."""
    servers.allow_postgresql_connections(url, False)
    try:
        yield
    finally:
        servers.allow_postgresql_connections(url, True)


def test_20000_errors_cost_the_application_microseconds_each_and_are_all_stored(
    pg_url: str, logger: logging.Logger, request: pytest.FixtureRequest
) -> None:
    handler = TicketingHandler(pg_url, queue_size=BURST)
    logger.addHandler(handler)
    started = time.perf_counter()
    for n in range(BURST):
        logger.error("disk %d full", n)
    per_call = (time.perf_counter() - started) / BURST
    assert handler.flush(180)
    stored_after = time.perf_counter() - started
    handler.close()
    report(request, app_us_per_call=round(per_call * 1e6, 1),
           stored_per_s=round(BURST / stored_after), load=os.getloadavg()[0])
    assert handler.dropped == 0
    assert len(stored_messages(pg_url)) == BURST
    # A write inside the call costs a commit (milliseconds); queueing costs microseconds.
    assert per_call < 500e-6, f"{per_call * 1e6:.0f} µs per log call"


def test_ten_seconds_of_refused_connections_block_no_call_and_lose_nothing(
    pg_url: str, logger: logging.Logger, request: pytest.FixtureRequest,
    writer_messages: Callable[[str], int],
) -> None:
    handler = TicketingHandler(pg_url, queue_size=50_000)
    logger.addHandler(handler)
    logger.error("before the outage")
    assert handler.flush(30)
    durations = []
    with refused(pg_url):
        end = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < end:
            started = time.perf_counter()
            logger.error("during the outage %d", len(durations))
            durations.append(time.perf_counter() - started)
            time.sleep(0.0005)
        assert writer_messages("ticket storage unavailable") == 1
    assert handler.flush(60), "the queue was not written once storage was back"
    handler.close()
    durations.sort()
    report(request, calls=len(durations), load=os.getloadavg()[0],
           median_us=round(statistics.median(durations) * 1e6, 1),
           p99_us=round(durations[len(durations) * 99 // 100] * 1e6, 1),
           max_us=round(durations[-1] * 1e6, 1))
    assert handler.dropped == 0
    assert len(stored_messages(pg_url)) == 1 + len(durations)
    assert writer_messages("ticket storage available again") == 1
    # Each refused connection attempt takes milliseconds; a queued call, microseconds.
    assert statistics.median(durations) < 500e-6


def test_an_overflowing_queue_drops_exactly_what_does_not_fit(
    pg_url: str, logger: logging.Logger, writer_messages: Callable[[str], int]
) -> None:
    handler = TicketingHandler(pg_url, queue_size=1000, batch_size=200, batch_interval=0.05)
    logger.addHandler(handler)
    with refused(pg_url):
        for n in range(300):
            logger.error("early %d", n)
        deadline = time.monotonic() + 30
        while not writer_messages("ticket storage unavailable"):  # it holds a batch now
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for n in range(4700):
            logger.error("late %d", n)
        assert handler.dropped == 4000
        assert writer_messages("ticket queue full") == 1
    assert handler.flush(60)
    handler.close()
    messages = stored_messages(pg_url)
    assert len(messages) == 1000 and handler.dropped == 4000
    assert sorted(messages) == sorted(
        [f"early {n}" for n in range(300)] + [f"late {n}" for n in range(700)]
    )
    assert writer_messages("ticket queue drained; 4000 records were dropped") == 1


def test_close_stores_everything_queued(sql_url: str, logger: logging.Logger) -> None:
    handler = TicketingHandler(sql_url, batch_interval=60)  # nothing written before close
    logger.addHandler(handler)
    for n in range(3000):
        logger.error("queued %d", n)
    handler.close()
    assert len(stored_messages(sql_url)) == 3000


def test_a_refused_record_is_reported_and_costs_only_itself(
    sql_url: str, logger: logging.Logger
) -> None:
    reported: list[logging.LogRecord] = []
    handler = TicketingHandler(sql_url, batch_interval=60)
    handler.handleError = reported.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.error("good 1")
    logging.getLogger("x" * 300).addHandler(handler)  # longer than a channel may be
    logging.getLogger("x" * 300).propagate = False
    logging.getLogger("x" * 300).error("refused")
    logger.error("good 2")
    assert handler.flush(30)
    logging.getLogger("x" * 300).removeHandler(handler)
    handler.close()
    assert sorted(stored_messages(sql_url)) == ["good 1", "good 2"]
    assert [r.getMessage() for r in reported] == ["refused"]


class _Customised(TicketingHandler):
    """Overrides the extension points, as logbook subclasses do."""

    threads: list[str]

    def process_record(self, record: Any, hash: str) -> dict[str, Any]:
        data = super().process_record(record, hash)
        data["extra"]["customised"] = True
        return data

    def record_ticket(self, record: Any, data: dict[str, Any], hash: str) -> None:
        self.threads.append(threading.current_thread().name)
        super().record_ticket(record, data, hash)


def test_overridden_process_record_and_record_ticket_run_on_the_writer(
    tmp_path: Path, logger: logging.Logger
) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    handler = _Customised(url, app_id="custom")
    handler.threads = []
    logger.addHandler(handler)
    for n in range(3):
        logger.error("custom %d", n)
    assert handler.flush(30)
    [ticket] = handler.db.get_tickets()
    occurrences = handler.db.get_occurrences(ticket.ticket_id)
    assert [o.data["extra"]["customised"] for o in occurrences] == [True] * 3
    assert handler.threads == ["pipeline-tickets-custom"] * 3
    handler.close()


#: Queues records in a parent, forks with os.fork and multiprocessing, logs in
#: the children (which end without closing the handler) and in the parent.
#: Each child must reach PostgreSQL through a session of its own.
FORKS = """
import logging, multiprocessing, os, sys
import sqlalchemy as sa
from pipeline.ticketing import TicketingHandler

def session():
    with handler.db.connection.engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()

handler = TicketingHandler(sys.argv[1], app_id="forks", batch_interval=60)
log = logging.getLogger("forks")
log.propagate = False
log.addHandler(handler)
log.error("before the fork")
assert handler.flush(30)  # the handler's pool holds a connection now
parents = {session() for _ in range(4)}  # the sessions of every pooled connection
for n in range(100):
    log.error("queued in the parent at the fork %d", n)
pid = os.fork()
if pid == 0:
    if session() in parents:
        os._exit(3)  # the child talks over the parent's connection
    for n in range(10):
        log.error("os.fork child %d", n)
    sys.exit(0)  # the exit hook writes the child's queue
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0

def child():
    assert session() not in parents, "the child talks over the parent's connection"
    for n in range(10):
        log.error("multiprocessing child %d", n)

process = multiprocessing.get_context("fork").Process(target=child)
process.start()
process.join(60)
assert process.exitcode == 0
log.error("parent after the children")
handler.close()
print("done", flush=True)
"""


def run_script(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True,
        timeout=timeout, check=False, env={**os.environ, "PYTHONPATH": PACKAGE_ROOT},
    )


def test_forked_children_log_through_writers_of_their_own(pg_url: str) -> None:
    """Children store their records at exit; the parent's queue is written once, by it."""
    done = run_script(FORKS, pg_url)
    assert done.returncode == 0 and done.stdout == "done\n", done.stderr
    messages = stored_messages(pg_url)
    expected = (
        ["before the fork", "parent after the children"]
        + [f"queued in the parent at the fork {n}" for n in range(100)]
        + [f"os.fork child {n}" for n in range(10)]
        + [f"multiprocessing child {n}" for n in range(10)]
    )
    assert sorted(messages) == sorted(expected)


#: Logs without ever closing the handler; with a go line, waits for it first.
EXIT = """
import logging, sys
from pipeline.ticketing import TicketingHandler

handler = TicketingHandler(sys.argv[1], batch_interval=60, flush_timeout=float(sys.argv[2]))
log = logging.getLogger("exit")
log.propagate = False
log.addHandler(handler)
print("ready", flush=True)
sys.stdin.readline()
for n in range(500):
    log.error("logged just before exit %d", n)
"""


def _start_exit_script(url: str, flush_timeout: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", EXIT, url, str(flush_timeout)], text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": PACKAGE_ROOT},
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def test_records_queued_at_exit_are_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    proc = _start_exit_script(url, 30)
    _, stderr = proc.communicate("go\n", timeout=120)
    assert proc.returncode == 0 and stderr == "", stderr
    assert len(stored_messages(url)) == 500


def test_exit_with_storage_down_waits_one_flush_timeout(pg_url: str) -> None:
    """One ``flush_timeout`` in all, not one for logging.shutdown's flush() and another for close()."""
    proc = _start_exit_script(pg_url, 5.0)
    with refused(pg_url):
        started = time.monotonic()
        _, stderr = proc.communicate("go\n", timeout=120)
        took = time.monotonic() - started
    assert proc.returncode == 0, stderr
    assert "500 records not stored" in stderr
    # Two timeouts would take at least 10 s; the margin is for a loaded machine.
    assert 5.0 <= took < 5.0 + 4.0, f"exit took {took:.1f} s"
