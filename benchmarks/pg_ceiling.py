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
driver's own code: what ran before). Rounds rotate which goes first.

    python benchmarks/pg_ceiling.py --count 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import psycopg
from alembic import command
from api_latency import new_database
from event_corpus import events

from pipeline import storage
from pipeline.models import Event
from pipeline.storage.impl_sqlalchemy.connection import alembic_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The tables a stored event has rows in, with their columns.
_PER_EVENT = {
    "event": "message_id, generated, event_type_id, traits, raw",
    "event_message": "message_id, generated",
}


def record(url: str, corpus: list[Event], batch: int, previous: bool = False) -> float:
    """Seconds ``record_events`` takes for ``corpus`` into the upgraded database ``url``.

    ``previous``: schema at revision 0004, where the driver writes the
    previous layout (one row per trait) with the SQL driver's own code.
    """
    conn = storage.get_connection(url)
    try:
        if previous:
            with conn.engine.begin() as sql:  # type: ignore[attr-defined]
                command.upgrade(alembic_config(sql), "0004")
        else:
            conn.upgrade()
        started = time.perf_counter()
        for start in range(0, len(corpus), batch):
            result = conn.record_events(corpus[start : start + batch])
            if result.failed or result.duplicates:
                raise SystemExit(f"not all stored: {result.failed or result.duplicates}")
        return time.perf_counter() - started
    finally:
        conn.close()


def dump(url: str, corpus: list[Event], batch: int) -> list[list[tuple[str, bytes]]]:
    """The stored rows of each batch as (table, binary COPY data) pairs."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    batches: list[list[tuple[str, bytes]]] = []
    with psycopg.connect(dsn) as conn:
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


def bare(url: str, batches: list[list[tuple[str, bytes]]]) -> float:
    """Seconds binary COPY takes for ``batches`` into the upgraded database ``url``."""
    conn = storage.get_connection(url)
    try:
        conn.upgrade()
    finally:
        conn.close()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as pg:
        _partitions_like(pg)
        started = time.perf_counter()
        for tables in batches:
            with pg.cursor() as cur:
                for table, rows in tables:
                    with cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(rows)
            pg.commit()
        return time.perf_counter() - started


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
    parser.add_argument("--admin-url", default=ADMIN)
    args = parser.parse_args(argv)
    corpus = events(args.count, args.seed)
    with new_database(args.admin_url, False) as url:
        record(url, corpus, args.batch_size)
        batches = dump(url, corpus, args.batch_size)
    rates: dict[str, list[float]] = {"record_events": [], "bare COPY": [], "previous layout": []}
    runs = {
        "record_events": lambda url: record(url, corpus, args.batch_size),
        "bare COPY": lambda url: bare(url, batches),
        "previous layout": lambda url: record(url, corpus, args.batch_size, previous=True),
    }
    for round_ in range(args.repeat):
        order = list(runs)[round_ % 3 :] + list(runs)[: round_ % 3]  # rotate who goes first
        for name in order:
            with new_database(args.admin_url, False) as url:
                rates[name].append(len(corpus) / runs[name](url))
        new, ceiling, old = (rates[name][-1] for name in runs)
        print(
            f"round {round_ + 1}: record_events {new:,.0f} events/s = {100 * new / ceiling:.0f}% "
            f"of bare COPY {ceiling:,.0f}/s, {new / old:.2f}x the previous layout {old:,.0f}/s",
            flush=True,
        )
    new, ceiling, old = (statistics.median(rates[name]) for name in runs)
    print(
        f"medians: record_events {new:,.0f}/s = {100 * new / ceiling:.0f}% of bare COPY "
        f"{ceiling:,.0f}/s; {new / old:.2f}x the previous layout {old:,.0f}/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
