"""``record_events`` into PostgreSQL beside a bare binary COPY of the same rows.

The seeded corpus (:mod:`event_corpus`) is written once with
``Connection.record_events`` and the rows stored for each batch — in
``event``, ``event_message`` and (once) ``event_catalogue`` — are read back
as binary COPY data. Each round then writes the corpus with
``record_events`` in batches into a fresh database (schema by the
migrations), and copies those rows into another fresh database with the
same schema and partitions, one binary COPY per table per batch, each batch
one transaction, through psycopg alone. The second is the ceiling: the
database's own work for these rows and indexes, with no client work but
sending bytes. A third database gets the same corpus in the previous
layout (schema at revision 0004, which the driver writes with the SQL
driver's own code: what ran before). Rounds rotate which goes first
(:mod:`rounds`). Each run also gives the CPU time per event of the client
process and of PostgreSQL's sessions (:mod:`server_cpu`).

    python benchmarks/pg_ceiling.py --count 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import psycopg
from alembic import command
from event_corpus import events
from record_events import DATABASES, measure
from rounds import run_rounds
from server_cpu import ServerCPU

from pipeline import storage
from pipeline.models import Event
from pipeline.storage.impl_sqlalchemy.connection import alembic_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The tables a stored event has rows in, with their columns.
_PER_EVENT = {
    "event": "message_id, generated, event_type_id, traits, raw",
    "event_message": "message_id, generated",
}
#: What each contender reports, in order.
FIGURES = ("events/s", "client CPU µs/event", "PostgreSQL CPU µs/event")


def previous_layout(conn: storage.Connection) -> None:
    """Schema at revision 0004: the driver writes one row per trait, with the SQL driver's code."""
    with conn.engine.begin() as sql:  # type: ignore[attr-defined]
        command.upgrade(alembic_config(sql), "0004")


@contextlib.contextmanager
def cpu_of(url: str, admin_url: str, found: list[float]) -> Iterator[None]:
    """Append the client's and the database's CPU seconds spent in the block to ``found``."""
    server = ServerCPU(admin_url, url.rsplit("/", 1)[1])
    server.start()
    client = time.process_time()
    yield
    found.extend((time.process_time() - client, server.seconds()))


def record(args: argparse.Namespace, corpus: list[Event], previous: bool) -> tuple[float, ...]:
    """``record_events`` of ``corpus`` into a fresh database: :data:`FIGURES`."""
    cpu: list[float] = []
    schema = previous_layout if previous else None
    with DATABASES["postgresql"](args) as url:
        seconds = measure(url, corpus, args.batch_size, schema,
                          lambda: cpu_of(url, args.postgresql_admin, cpu))
    return _figures(len(corpus), seconds, cpu)


def _figures(count: int, seconds: float, cpu: list[float]) -> tuple[float, ...]:
    client, server = cpu
    return count / seconds, client / count * 1e6, server / count * 1e6


def dump(url: str, corpus: list[Event], batch: int) -> list[list[tuple[str, bytes]]]:
    """The stored rows of each batch as (table, binary COPY data) pairs."""
    batches: list[list[tuple[str, bytes]]] = []
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE ids (message_id text)")
        for start in range(0, len(corpus), batch):
            conn.execute("TRUNCATE ids")
            with conn.cursor().copy("COPY ids FROM STDIN") as copy:
                for event in corpus[start : start + batch]:
                    copy.write_row((event.message_id,))
            batches.append(
                [
                    (table, _copy_out(conn, f"COPY (SELECT {columns} FROM {table} WHERE "
                     "message_id IN (SELECT message_id FROM ids)) TO STDOUT (FORMAT BINARY)"))
                    for table, columns in _PER_EVENT.items()
                ]
            )
        # The catalogue rows the batches added, once (the first batch adds nearly all).
        batches[0].append(
            ("event_catalogue", _copy_out(conn, "COPY event_catalogue TO STDOUT (FORMAT BINARY)"))
        )
    return batches


def _copy_out(conn: psycopg.Connection, statement: str) -> bytes:
    with conn.cursor().copy(statement) as copy:
        return b"".join(bytes(block) for block in copy)


def bare(args: argparse.Namespace, batches: list[list[tuple[str, bytes]]], count: int
         ) -> tuple[float, ...]:
    """Binary COPY of ``batches`` into a fresh database with the same schema: :data:`FIGURES`."""
    cpu: list[float] = []
    with DATABASES["postgresql"](args) as url:
        conn = storage.get_connection(url)
        try:
            conn.upgrade()
        finally:
            conn.close()
        with psycopg.connect(url) as pg:
            _partitions_like(pg)
            with cpu_of(url, args.postgresql_admin, cpu):
                started = time.perf_counter()
                for tables in batches:
                    with pg.cursor() as cur:
                        for table, rows in tables:
                            with cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
                                copy.write(rows)
                    pg.commit()
                seconds = time.perf_counter() - started
    return _figures(count, seconds, cpu)


def _partitions_like(pg: psycopg.Connection) -> None:
    """Partitions for the corpus's days (it spans 2026-11-24 UTC)."""
    for day in ("2026-11-23", "2026-11-24", "2026-11-25"):
        name = "event_p" + day.replace("-", "")
        pg.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF event "
            f"FOR VALUES FROM ('{day}') TO (date '{day}' + 1)"
        )
    pg.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgresql-admin", default=ADMIN)
    args = parser.parse_args(argv)
    corpus = events(args.count, args.seed)
    with DATABASES["postgresql"](args) as url:
        measure(url, corpus, args.batch_size)
        batches = dump(url, corpus, args.batch_size)
    contenders: dict[str, Callable[[], tuple[float, ...]]] = {
        "record_events": lambda: record(args, corpus, previous=False),
        "bare COPY": lambda: bare(args, batches, len(corpus)),
        "previous layout": lambda: record(args, corpus, previous=True),
    }

    def report(round_: int | str, figures: Mapping[str, tuple[float, ...]]) -> None:
        for name, (rate, client, server) in figures.items():
            print(f"{round_} {name:<16} {rate:9,.0f} events/s {client:6.1f} client CPU µs/event "
                  f"{server:6.1f} PostgreSQL CPU µs/event", flush=True)
        new, ceiling, old = (figures[name][0] for name in contenders)
        print(f"{round_}: record_events = {100 * new / ceiling:.0f}% of bare COPY, "
              f"{new / old:.2f}x the previous layout (load {os.getloadavg()[0]:.1f})", flush=True)

    medians = run_rounds(contenders, args.repeat, lambda n, found: report(f"round {n}", found))
    report("medians", medians)
    return 0


if __name__ == "__main__":
    sys.exit(main())
