"""Events/s of ``pipeline import panko``: a Panko SQLite database into PostgreSQL.

The Panko database is written by Panko 10.0.0 itself (``tests/panko_tool.py``
in the Panko virtualenv that ``tests/fixtures/build-panko-venv.sh`` builds),
from the seeded corpus of :mod:`event_corpus`; Panko stores one event per
transaction, so writing 100,000 takes a while: the file is kept (``--panko-db``)
and reused by later runs. Then a fresh PostgreSQL database gets pipeline's
schema and the import runs in this process, as ``pipeline import panko``
does it; only the import is timed. The load average is printed with the
figures (the machine is shared).

    python benchmarks/import_panko.py --count 100000 --repeat 3 --write-only 20000

Besides events/s it prints the CPU time per event of the importer's process
and of PostgreSQL's server processes (:mod:`server_cpu`); ``--write-only``
also times ``record_events`` alone on already converted events before each
run, the ceiling the import's reading and converting come on top of;
``--phases`` runs the import once more after each run, timing the CPU of
reading, converting and ``record_events`` apart.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from event_corpus import events
from server_cpu import ServerCPU

from pipeline import storage
from pipeline.importers import events as event_import
from pipeline.importers.events import import_events
from pipeline.importers.panko import PankoReader
from pipeline.importers.source import open_source
from pipeline.importers.summary import ImportSummary
from pipeline.models import Event, Trait

try:
    from pipeline.importers.collection import fewer_collections
except ImportError:  # main's code from before it, timed for comparison
    fewer_collections = contextlib.nullcontext

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("PIPELINE_PANKO_VENV") or ROOT / ".venv-panko")


def _panko_line(event: Event) -> str:
    def value(trait: Trait) -> object:
        if trait.dtype == Trait.DATETIME_TYPE:
            return trait.value.replace(tzinfo=None).isoformat()
        return trait.value

    return json.dumps(
        {
            "message_id": event.message_id,
            "event_type": event.event_type,
            "generated": event.generated.replace(tzinfo=None).isoformat(),
            "traits": [[t.name, t.dtype, value(t)] for t in event.traits],
        }
    )


def write_panko(path: Path, count: int, seed: int) -> None:
    """Write ``count`` corpus events into a new Panko SQLite file with Panko's code."""
    subprocess.run(["bash", ROOT / "tests/fixtures/build-panko-venv.sh", VENV], check=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    with subprocess.Popen(
        [VENV / "bin/python", ROOT / "tests/panko_tool.py", "write", f"sqlite:///{partial}"],
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as writer:
        assert writer.stdin is not None
        for event in events(count, seed):
            writer.stdin.write(_panko_line(event) + "\n")
        writer.stdin.close()
    if writer.returncode:
        raise SystemExit(f"panko_tool failed ({writer.returncode})")
    partial.rename(path)
    print(f"Panko wrote {count:,} events in {time.monotonic() - started:.0f} s", file=sys.stderr)


@contextlib.contextmanager
def postgresql_target(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_once(
    panko_db: Path, args: argparse.Namespace, ahead: bool | None
) -> tuple[float, float, float, ImportSummary]:
    """Seconds the import took, CPU seconds of this process and of PostgreSQL meanwhile,
    and its summary."""
    engine = open_source(f"sqlite:///{panko_db}")
    with postgresql_target(args.pg) as url:
        conn = storage.get_connection(url)
        conn.upgrade()
        summary = ImportSummary("events")
        server = ServerCPU(args.pg, url.rsplit("/", 1)[1])
        server.start()
        started, cpu = time.perf_counter(), time.process_time()
        # read_ahead only when asked: the default lets import_events decide (and the
        # command runs against code from before that option too).
        options = {} if ahead is None else {"read_ahead": ahead}
        import_events(PankoReader(engine), conn, summary, batch_size=args.batch_size, **options)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_cpu = server.seconds()
        conn.close()
    engine.dispose()
    return elapsed, cpu, server_cpu, summary


def phases(panko_db: Path, args: argparse.Namespace) -> tuple[float, dict[str, float]]:
    """The import done in turn as ``import_events`` does it, each part timed on its own:
    events/s, and CPU µs per event of reading, converting, ``record_events`` (this
    process) and PostgreSQL."""
    engine = open_source(f"sqlite:///{panko_db}")
    summary = ImportSummary("events")
    spent = dict.fromkeys(("read", "convert", "record_events"), 0.0)
    with postgresql_target(args.pg) as url:
        conn = storage.get_connection(url)
        conn.upgrade()
        server = ServerCPU(args.pg, url.rsplit("/", 1)[1])
        server.start()
        started = time.perf_counter()
        with fewer_collections():
            pages = PankoReader(engine).pages(args.batch_size)
            while True:
                before = time.process_time()
                page = next(pages, None)
                read = time.process_time()
                if page is None:
                    break
                events = [event_import.to_event(item, summary) for item in page]
                converted = time.process_time()
                summary.stored += len(conn.record_events(events).stored)
                spent["read"] += read - before
                spent["convert"] += converted - read
                spent["record_events"] += time.process_time() - converted
        elapsed = time.perf_counter() - started
        spent["PostgreSQL"] = server.seconds()
        conn.close()
    engine.dispose()
    return summary.stored / elapsed, {part: cpu / summary.stored * 1e6 for part, cpu in spent.items()}


def write_only(panko_db: Path, args: argparse.Namespace, count: int) -> tuple[float, float, float]:
    """The first ``count`` events converted before timing, then only written as the import
    writes them: events/s, importer and PostgreSQL CPU µs per event (the writing ceiling)."""
    engine = open_source(f"sqlite:///{panko_db}")
    summary = ImportSummary("events")
    pages = []
    for page in PankoReader(engine).pages(args.batch_size):
        pages.append([event_import.to_event(item, summary) for item in page])
        if sum(map(len, pages)) >= count:
            break
    engine.dispose()
    written = sum(map(len, pages))
    with postgresql_target(args.pg) as url:
        conn = storage.get_connection(url)
        conn.upgrade()
        server = ServerCPU(args.pg, url.rsplit("/", 1)[1])
        server.start()
        started, cpu = time.perf_counter(), time.process_time()
        stored = sum(len(conn.record_events(page).stored) for page in pages)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_cpu = server.seconds()
        conn.close()
    if stored != written:
        raise SystemExit(f"stored {stored} of {written} events")
    return written / elapsed, cpu / written * 1e6, server_cpu / written * 1e6


def _reading(ahead: bool | None) -> str:
    if ahead is None:
        return "read ahead by the source's default"
    return "read ahead in a thread" if ahead else "no read-ahead"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    # The importer's own default (main's code before it had one: 1,000).
    parser.add_argument(
        "--batch-size", type=int, default=getattr(event_import, "BATCH_SIZE", 1000)
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--panko-db", type=Path, help="Panko SQLite file (written if missing)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--compare-prefetch",
        action="store_true",
        help="alternate runs with and without reading ahead in a thread (default: as "
        "import_events decides for the source; none for SQLite)",
    )
    parser.add_argument(
        "--write-only",
        type=int,
        default=0,
        metavar="COUNT",
        help="before each run, time writing COUNT already converted events (the ceiling)",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="after each run, one more timing reading, converting and record_events apart",
    )
    args = parser.parse_args()
    panko_db = args.panko_db or Path(tempfile.gettempdir()) / (
        f"pipeline-bench-panko-{args.count}-{args.seed}.db"
    )
    if not panko_db.exists():
        write_panko(panko_db, args.count, args.seed)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, Panko database {panko_db}")
    for number in range(args.repeat * (2 if args.compare_prefetch else 1)):
        ahead = None if not args.compare_prefetch else not number % 2
        if args.write_only:
            load = os.getloadavg()[0]
            rate, cpu_us, server_us = write_only(panko_db, args, args.write_only)
            print(
                f"run {number + 1} writing only ({args.write_only:,} converted events): "
                f"{rate:,.0f} events/s, CPU µs/event: importer {cpu_us:.0f}, PostgreSQL "
                f"{server_us:.0f} (load average {load:.1f} -> {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        load = os.getloadavg()[0]
        elapsed, cpu, server_cpu, summary = run_once(panko_db, args, ahead)
        stored = summary.stored
        print(
            f"run {number + 1} ({_reading(ahead)}): "
            f"{stored:,} events in {elapsed:.1f} s = {stored / elapsed:,.0f} events/s, "
            f"CPU µs/event: importer {cpu / stored * 1e6:.0f}, PostgreSQL "
            f"{server_cpu / stored * 1e6:.0f} (load average {load:.1f} -> "
            f"{os.getloadavg()[0]:.1f}); refused {summary.refused_count}",
            flush=True,
        )
        if args.phases:
            load = os.getloadavg()[0]
            rate, parts = phases(panko_db, args)
            shown = ", ".join(f"{part} {cpu:.1f}" for part, cpu in parts.items())
            print(
                f"run {number + 1} in parts: {rate:,.0f} events/s, CPU µs/event: {shown} "
                f"(load average {load:.1f} -> {os.getloadavg()[0]:.1f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
