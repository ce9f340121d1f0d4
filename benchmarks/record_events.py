"""Events/s of ``Connection.record_events`` per storage backend.

Each backend gets a fresh database (a temporary SQLite file, a new
PostgreSQL / MariaDB / MongoDB database dropped afterwards, or memory), the schema is
created, then the seeded corpus (:mod:`event_corpus`) is written in batches
of ``--batch-size``. Only the writes are timed; generating the corpus is not.

    python benchmarks/record_events.py --backends sqlite,postgresql --count 20000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator

from event_corpus import events
from mongodb import mongodb_database

from pipeline import storage
from pipeline.models import Event

BACKENDS = ("memory", "sqlite", "postgresql", "mysql", "mongodb")


@contextlib.contextmanager
def _sqlite(_args: argparse.Namespace) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as directory:
        yield f"sqlite:///{os.path.join(directory, 'bench.sqlite')}"


@contextlib.contextmanager
def _postgresql(args: argparse.Namespace) -> Iterator[str]:
    import psycopg

    name = f"pipeline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgresql_admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{args.postgresql_admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(args.postgresql_admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _mysql(args: argparse.Namespace) -> Iterator[str]:
    import pymysql

    name = f"pipeline_bench_{uuid.uuid4().hex[:8]}"
    host, _, port = args.mysql_host.partition(":")

    def admin() -> pymysql.connections.Connection:
        return pymysql.connect(host=host, port=int(port or 3306), user="root", autocommit=True)

    with admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql://root@{args.mysql_host}/{name}"
    finally:
        with admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@contextlib.contextmanager
def _memory(_args: argparse.Namespace) -> Iterator[str]:
    yield "memory://"


def _mongodb(args: argparse.Namespace) -> contextlib.AbstractContextManager[str]:
    return mongodb_database(args.mongodb_url)


DATABASES: dict[str, Callable[[argparse.Namespace], contextlib.AbstractContextManager[str]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "mysql": _mysql,
    "mongodb": _mongodb,
}


def measure(
    url: str,
    corpus: list[Event],
    batch_size: int,
    schema: Callable[[storage.Connection], None] | None = None,
    timed: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> float:
    """Seconds taken to record ``corpus`` in batches into ``url``.

    ``schema(conn)`` makes the schema (default: ``conn.upgrade()``, the newest); ``timed()`` is
    entered when the clock starts and left when it stops, the connection
    still open (to read what the server's sessions spent meanwhile).
    """
    conn = storage.get_connection(url)
    try:
        if schema is None:
            conn.upgrade()
        else:
            schema(conn)
        with timed():
            started = time.perf_counter()
            stored = 0
            for start in range(0, len(corpus), batch_size):
                result = conn.record_events(corpus[start : start + batch_size])
                if result.failed:
                    failed = dict(list(result.failed.items())[:3])
                    raise SystemExit(f"{url}: events failed: {failed}")
                stored += len(result.stored)
            elapsed = time.perf_counter() - started
    finally:
        conn.close()
    if stored != len(corpus):
        raise SystemExit(f"{url}: stored {stored} of {len(corpus)} events")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"comma-separated, from {', '.join(BACKENDS)} (default: all)",
    )
    parser.add_argument("--count", type=int, default=20000, help="events per backend")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend, each on a new DB")
    parser.add_argument(
        "--postgresql-admin",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="URL of a database from which to create the benchmark one",
    )
    parser.add_argument("--mysql-host", default="127.0.0.1:3306", help="MariaDB/MySQL (user root)")
    parser.add_argument(
        "--mongodb-url",
        default=None,
        help="MongoDB server (mongodb://host:port); default: a SecantusDB started for the run",
    )
    args = parser.parse_args(argv)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    corpus = events(args.count, args.seed)
    traits = sum(len(event.traits) for event in corpus) / max(len(corpus), 1)
    print(f"{len(corpus)} events, {traits:.1f} traits each, batches of {args.batch_size}")
    for name in backends:
        rates = []
        for _ in range(args.repeat):
            with DATABASES[name](args) as url:
                rates.append(len(corpus) / measure(url, corpus, args.batch_size))
        print(
            f"{name:<11} best {max(rates):>9,.0f} events/s, median "
            f"{statistics.median(rates):>9,.0f} events/s over {len(rates)} runs",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
