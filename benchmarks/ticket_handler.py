"""TicketingHandler against logbook's: records/s stored and the application's µs per call.

Records are built from the seeded corpus (:mod:`log_corpus`: 200 call
sites, Zipf-distributed) before timing: logbook ``LogRecord`` objects (what
logbook's handler takes; pipeline's takes them too) and stdlib
``logging.LogRecord`` objects. Each run hands them to a handler on a fresh
database, from one application thread:

* *µs per call*: the loop of ``handle(record)`` calls (stdlib records go
  through ``Logger.handle``, as from ``log.error``) divided by the count;
  what the application's thread pays for the handler;
* *stored/s*: the count divided by the time from the first call until
  everything is stored (``flush()`` returned; checked by reading it back).

* *CPU µs/record*: CPU time of the whole benchmark process (application
  and writer threads, SQLite's work) per record; *PostgreSQL CPU
  µs/record*: CPU time of the database's server processes (read from
  ``/proc``, so PostgreSQL must run on this host).

The queued handler gets ``queue_size`` = the count, so nothing is dropped.
``--ceiling`` also writes the same rows with bare psycopg, with and without
the occurrence table's foreign key (:mod:`ticket_ceiling`), in every round;
``--batch-size`` sets the queued handler's (and the bare writes') batch size.
logbook writes one transaction per record, slowly: ``--logbook-count``
records give its rate. ``--outage S`` also measures each log call during
``S`` seconds of PostgreSQL refusing connections, beside a no-op handler
measured in the same loop.

    python benchmarks/ticket_handler.py --count 20000 --backends sqlite,postgresql --repeat 3
    python benchmarks/ticket_handler.py --backends postgresql --repeat 5 --ceiling
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from log_corpus import records
from record_events import DATABASES
from server_cpu import ServerCPU
from ticket_ceiling import bare_tickets, handler_records

from pipeline import storage

#: logbook level -> stdlib level, for the corpus's records.
STDLIB_LEVELS = {15: logging.CRITICAL, 14: logging.ERROR, 13: logging.WARNING, 11: logging.INFO}


def logbook_records(raw: list[dict[str, Any]]) -> list[Any]:
    """logbook LogRecords of the corpus, with their exact times."""
    import logbook

    built = []
    for item in raw:
        record = logbook.LogRecord.from_dict(item)
        record.time = dt.datetime.strptime(item["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        built.append(record)
    return built


def stdlib_records(raw: list[dict[str, Any]]) -> list[logging.LogRecord]:
    """stdlib LogRecords of the corpus (the traceback as already formatted text)."""
    built = []
    for item in raw:
        record = logging.LogRecord(
            item["channel"], STDLIB_LEVELS[item["level"]], item["filename"], item["lineno"],
            item["message"], (), None, func=item["func_name"],
        )
        record.exc_text = item["formatted_exception"]
        record.request_id = item["extra"]["request_id"]
        built.append(record)
    return built


def stored_count(url: str, logbook_tables: bool = False) -> int:
    """Occurrences stored at ``url``: in pipeline's schema, or in logbook's own tables."""
    if logbook_tables:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("SELECT count(*) FROM logbook_occurrences")).scalar_one())
        finally:
            engine.dispose()
    conn = storage.get_connection(url, require=[storage.Capability.TICKETS])
    try:
        return sum(t.occurrence_count for t in conn.get_tickets(limit=None))
    finally:
        conn.close()


def run(
    make: Callable[[str], Any], url: str, batch: list[Any], admin_url: str
) -> tuple[float, float, float, float]:
    """Application µs per call, records stored per second, process CPU µs per record,
    PostgreSQL's CPU µs per record (NaN for other databases)."""
    handler = make(url)
    stdlib = isinstance(batch[0], logging.LogRecord)
    logger = logging.getLogger("bench.handler")
    logger.propagate, logger.handlers = False, [handler]
    call = logger.handle if stdlib else handler.handle
    server = ServerCPU(admin_url, url.rsplit("/", 1)[1]) if url.startswith("postgresql") else None
    try:
        if server is not None:
            server.start()
        cpu_started, started = time.process_time(), time.perf_counter()
        for record in batch:
            call(record)
        called = time.perf_counter() - started
        if hasattr(handler, "flush") and handler.flush(600) is False:
            raise SystemExit("flush timed out")
        stored = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        server_cpu = float("nan") if server is None else server.seconds()
        if getattr(handler, "dropped", 0):
            raise SystemExit(f"{handler.dropped} records dropped")
    finally:
        logger.handlers = []
        handler.close()
    found = stored_count(url, logbook_tables=type(handler).__module__.startswith("logbook"))
    if found != len(batch):
        raise SystemExit(f"{url}: stored {found} of {len(batch)}")
    count = len(batch)
    return called / count * 1e6, count / stored, cpu / count * 1e6, server_cpu / count * 1e6


def error_calls(url: str, count: int, options: dict[str, Any]) -> dict[str, float]:
    """µs per ``log.error("disk %d full", n)`` call: queued handler, and a no-op handler."""
    from pipeline.ticketing import TicketingHandler

    handler = TicketingHandler(url, queue_size=count, **options)
    figures = {}
    for label, target in (("no-op", logging.NullHandler()), ("queued", handler)):
        logger = logging.getLogger(f"bench.errors.{label}")
        logger.propagate, logger.handlers = False, [target]
        started = time.perf_counter()
        for n in range(count):
            logger.error("disk %d full", n)
        figures[label] = (time.perf_counter() - started) / count * 1e6
        logger.handlers = []
    if not handler.flush(600) or handler.dropped or stored_count(url) != count:
        raise SystemExit("the log.error records were not all stored")
    handler.close()
    return figures


def outage_calls(url: str, seconds: float) -> dict[str, list[float]]:
    """Seconds per log call during ``seconds`` of refused connections, queued vs a no-op."""
    import psycopg

    from pipeline.ticketing import TicketingHandler

    handler = TicketingHandler(url, queue_size=1_000_000)
    loggers = {}
    for name, target in (("queued", handler), ("no-op", logging.NullHandler())):
        loggers[name] = logging.getLogger(f"bench.outage.{name}")
        loggers[name].propagate, loggers[name].handlers = False, [target]
    durations: dict[str, list[float]] = {name: [] for name in loggers}
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (name,))
        try:
            end = time.monotonic() + seconds
            n = 0
            order = list(loggers.items())
            while time.monotonic() < end:
                order.reverse()  # the first call after the pause finds cold caches: take turns
                for label, logger in order:
                    started = time.perf_counter()
                    logger.error("call %d during the outage", n)
                    durations[label].append(time.perf_counter() - started)
                n += 1
                time.sleep(0.0005)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    if not handler.flush(120) or handler.dropped:
        raise SystemExit("the outage's records were not all stored")
    handler.close()
    if stored_count(url) != len(durations["queued"]):
        raise SystemExit("the outage's records were not all stored")
    return durations


def handlers(
    backend: str, count: int, logbook_count: int, options: dict[str, Any]
) -> list[tuple[str, Callable, str, int]]:
    """(label, factory, record kind, count) of the runs on ``backend``."""
    from pipeline.ticketing import TicketingHandler

    runs: list[tuple[str, Callable, str, int]] = [
        ("pipeline queued", lambda url: TicketingHandler(url, queue_size=count, **options),
         "logbook", count),
        ("pipeline queued", lambda url: TicketingHandler(url, queue_size=count, **options),
         "stdlib", count),
        ("pipeline synchronous=True", lambda url: TicketingHandler(url, synchronous=True),
         "logbook", logbook_count),
    ]
    if backend == "sqlite":  # logbook's handler fails every emit on PostgreSQL
        from logbook.ticketing import TicketingHandler as LogbookHandler

        runs.insert(0, ("logbook 1.x TicketingHandler", LogbookHandler, "logbook", logbook_count))
    return runs


def _print(prefix: str, label: str, kind: str, figures: tuple[float, float, float, float]) -> None:
    print(f"{prefix} {label:<28} {kind:<7} {figures[0]:8.1f} µs/call {figures[1]:9,.0f} stored/s "
          f"{figures[2]:7.1f} CPU µs/record {figures[3]:6.1f} PostgreSQL CPU µs/record "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--count", type=int, default=20000, help="records per queued run")
    parser.add_argument("--logbook-count", type=int, default=2000,
                        help="records per run of the per-record (synchronous) handlers")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch_size of the queued handler (default: the handler's)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also write the same rows with bare psycopg (ticket_ceiling.py)")
    parser.add_argument("--outage", type=float, default=0.0, metavar="SECONDS",
                        help="also time log calls while PostgreSQL refuses connections")
    parser.add_argument("--postgresql-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--mysql-host", default="127.0.0.1:3306")
    parser.add_argument("--mongodb-url", default=None)
    args = parser.parse_args(argv)
    raw = records(args.count, args.seed)
    corpus = {"logbook": logbook_records(raw), "stdlib": stdlib_records(raw)}
    prepared = handler_records(args.count, args.seed) if args.ceiling else []
    options = {} if args.batch_size is None else {"batch_size": args.batch_size}
    rates: dict[tuple[str, str, str], list[tuple[float, float, float, float]]] = {}
    for round_ in range(args.repeat):
        for backend in args.backends.split(","):
            for label, make, kind, count in handlers(backend, args.count, args.logbook_count,
                                                     options):
                with DATABASES[backend](args) as url:
                    figures = run(make, url, corpus[kind][:count], args.postgresql_admin)
                rates.setdefault((backend, label, kind), []).append(figures)
                _print(f"round {round_ + 1} {backend:<10}", label, kind, figures)
            if backend == "postgresql" and args.ceiling:
                for label, drop_fk in (("bare psycopg", False), ("bare psycopg, no FK", True)):
                    with DATABASES[backend](args) as url:
                        stored, cpu, server = bare_tickets(url, args.postgresql_admin, prepared,
                                                           args.batch_size or 1000, drop_fk)
                    figures = (float("nan"), stored, cpu, server)
                    rates.setdefault((backend, label, "stdlib"), []).append(figures)
                    _print(f"round {round_ + 1} {backend:<10}", label, "stdlib", figures)
    print("\nmedians:")
    for (backend, label, kind), found in rates.items():
        medians = tuple(statistics.median(f[i] for f in found) for i in range(4))
        _print(f"{backend:<10}", label, kind, medians)  # type: ignore[arg-type]
    logbook_rate = rates.get(("sqlite", "logbook 1.x TicketingHandler", "logbook"))
    queued_rate = rates.get(("sqlite", "pipeline queued", "logbook"))
    if logbook_rate and queued_rate:
        ratio = statistics.median(f[1] for f in queued_rate) / statistics.median(
            f[1] for f in logbook_rate)
        print(f"SQLite, same logbook records: pipeline queued stores {ratio:.0f}× logbook's rate")
    if "postgresql" in args.backends:
        for round_ in range(args.repeat):
            with DATABASES["postgresql"](args) as url:
                figures = error_calls(url, args.count, options)
            print(f"round {round_ + 1} {args.count} log.error calls from one thread, PostgreSQL: "
                  + ", ".join(f"{label} {us:.1f} µs/call" for label, us in figures.items())
                  + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    if args.outage:
        with DATABASES["postgresql"](args) as url:
            durations = outage_calls(url, args.outage)
        for label, found in durations.items():
            found.sort()
            print(f"outage {args.outage:.0f} s, {label:<6}: {len(found)} calls, median "
                  f"{statistics.median(found) * 1e6:.1f} µs, p99 "
                  f"{found[len(found) * 99 // 100] * 1e6:.1f} µs, p99.9 "
                  f"{found[len(found) * 999 // 1000] * 1e6:.1f} µs, max {found[-1] * 1e6:.0f} µs, "
                  f"over 1 ms: {sum(d > 1e-3 for d in found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
