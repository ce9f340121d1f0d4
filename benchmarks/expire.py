"""How long ``pipeline expire`` takes to delete half of a store's events.

Writes ``--count`` events of the seeded corpus (:mod:`event_corpus`),
``generated`` over ``--days`` days, into a fresh database through
``record_events`` in the order they would arrive (day after day, at
random within a day), lets the database settle (PostgreSQL:
``VACUUM ANALYZE``, as autovacuum would by then), and sets
``event_time_to_live`` so that the cutoff is the median ``generated``.
Then it times ``pipeline expire`` as an operator runs it (a process of its
own, start-up included) and, to tell start-up apart, a second ``pipeline
expire`` that finds nothing left to delete.

    python benchmarks/expire.py --backend postgresql --count 1000000 --days 10
    python benchmarks/expire.py --backend sqlite --count 100000 --days 10
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from api_latency import new_database
from event_corpus import events

from pipeline import storage
from pipeline.models import Event

CLI = "import sys; from pipeline.cli import main; sys.exit(main())"
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def database(backend: str, admin_url: str) -> Iterator[str]:
    if backend == "postgresql":
        with new_database(admin_url, False) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="pipeline-expire-") as directory:
            yield f"sqlite:///{directory}/bench.sqlite"


def load(url: str, count: int, days: int, batch: int) -> dt.datetime:
    """Write the events; return the median ``generated`` (the cutoff to use)."""
    conn = storage.get_connection(url)
    times = []
    try:
        conn.upgrade()
        started = time.perf_counter()
        for seed, offset in enumerate(range(0, count, batch)):
            # Written as they would arrive: day after day (in random order within a day).
            back = dt.timedelta(days=days - 1 - offset * days // count)
            chunk = [
                Event(e.message_id, e.event_type, e.generated - back, e.traits, e.raw)
                for e in events(min(batch, count - offset), seed=seed + 1)
            ]
            result = conn.record_events(chunk)
            if result.failed or result.duplicates:
                raise SystemExit(f"not all stored: {list(result.failed.items())[:3]}")
            times.extend(e.generated for e in chunk)
        print(f"loaded {count:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        conn.close()
    times.sort()
    return times[len(times) // 2]


def median_generated(url: str) -> dt.datetime:
    """The median ``generated`` of a loaded database's events."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY generated) FROM event"
        ).scalar_one()
    engine.dispose()
    return found.replace(tzinfo=dt.UTC)


def settle(url: str) -> None:
    if url.startswith("postgresql"):
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        engine.dispose()


def expire(url: str, ttl: int) -> tuple[float, str]:
    """Seconds ``pipeline expire`` takes with ``ttl``, and what it printed."""
    with tempfile.TemporaryDirectory(prefix="pipeline-expire-") as directory:
        config = Path(directory, "pipeline.conf")
        config.write_text(f"[database]\nconnection = {url}\nevent_time_to_live = {ttl}\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CLI, "--config-file", str(config), "expire"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return time.perf_counter() - started, done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--url", help="an already loaded database (expired in place)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.url:
            url, cutoff = args.url, median_generated(args.url)
        else:
            url = stack.enter_context(database(args.backend, args.admin_url))
            cutoff = load(url, args.count, args.days, args.batch_size)
        settle(url)
        ttl = int((dt.datetime.now(dt.UTC) - cutoff).total_seconds())
        took, said = expire(url, ttl)
        print(f"pipeline expire: {took:.2f} s: {said}")
        took_again, said_again = expire(url, ttl)
        print(
            f"pipeline expire again (start-up and an empty pass): {took_again:.2f} s: {said_again}"
        )
        print(f"expiry itself: about {took - took_again:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
