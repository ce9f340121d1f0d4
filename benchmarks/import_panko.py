"""Events/s of ``pipeline import panko``: a Panko SQLite database into PostgreSQL.

The Panko database is written by Panko 10.0.0 itself (``tests/panko_tool.py``
in the Panko virtualenv that ``tests/fixtures/build-panko-venv.sh`` builds),
from the seeded corpus of :mod:`event_corpus`; Panko stores one event per
transaction, so writing 100,000 takes a while: the file is kept (``--panko-db``)
and reused by later runs. Then a fresh PostgreSQL database gets pipeline's
schema and the import runs in this process, as ``pipeline import panko``
does it; only the import is timed. The load average is printed with the
figures (the machine is shared).

    python benchmarks/import_panko.py --count 100000 --repeat 3
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

from pipeline import storage
from pipeline.importers import events as event_import
from pipeline.importers.events import import_events
from pipeline.importers.panko import PankoReader
from pipeline.importers.source import open_source
from pipeline.importers.summary import ImportSummary
from pipeline.models import Event, Trait

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


def run_once(panko_db: Path, args: argparse.Namespace) -> tuple[float, float, ImportSummary]:
    """Seconds the import took, CPU seconds of this process meanwhile, and its summary."""
    engine = open_source(f"sqlite:///{panko_db}")
    with postgresql_target(args.pg) as url:
        conn = storage.get_connection(url)
        conn.upgrade()
        summary = ImportSummary("events")
        started, cpu = time.perf_counter(), time.process_time()
        import_events(PankoReader(engine), conn, summary, batch_size=args.batch_size)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        conn.close()
    engine.dispose()
    return elapsed, cpu, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--panko-db", type=Path, help="Panko SQLite file (written if missing)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--compare-prefetch",
        action="store_true",
        help="alternate runs with and without reading ahead in a thread",
    )
    args = parser.parse_args()
    panko_db = args.panko_db or Path(tempfile.gettempdir()) / (
        f"pipeline-bench-panko-{args.count}-{args.seed}.db"
    )
    if not panko_db.exists():
        write_panko(panko_db, args.count, args.seed)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, Panko database {panko_db}")
    threaded = event_import.prefetched
    for number in range(args.repeat * (2 if args.compare_prefetch else 1)):
        ahead = not (args.compare_prefetch and number % 2)
        event_import.prefetched = threaded if ahead else iter  # type: ignore[assignment]
        load = os.getloadavg()[0]
        elapsed, cpu, summary = run_once(panko_db, args)
        print(
            f"run {number + 1} ({'read ahead' if ahead else 'no read-ahead'}): "
            f"{summary.stored:,} events in {elapsed:.1f} s = "
            f"{summary.stored / elapsed:,.0f} events/s, {summary.stored / cpu:,.0f} per CPU "
            f"second of the importer (load average {load:.1f} -> "
            f"{os.getloadavg()[0]:.1f}); refused {summary.refused_count}"
        )


if __name__ == "__main__":
    main()
