"""What PostgreSQL itself allows for the queued handler's writes: the same rows, bare psycopg.

The queued ``TicketingHandler`` stores a batch in one transaction: a lookup
of the batch's occurrence keys, one ``unnest`` upsert of its tickets, a
binary ``COPY`` of its occurrences. :func:`bare_tickets` sends exactly those
statements for the same ``TicketRecord`` objects (built, and their data
serialised, before timing) with psycopg alone, into pipeline's schema:
no grouping, no validation, no SQLAlchemy. Its rate is the ceiling of the
storage design on this machine, measured beside the handler in the same
run; ``drop_fk`` also shows what the occurrence table's foreign key costs.

Each figure comes with what PostgreSQL spent per record
(:class:`server_cpu.ServerCPU`).

    python benchmarks/ticket_ceiling.py --count 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from log_corpus import records
from record_events import DATABASES
from rounds import run_rounds
from server_cpu import ServerCPU

from pipeline import storage
from pipeline.models import TicketRecord

LOOKUP = "SELECT occurrence_key FROM ticket_occurrence WHERE occurrence_key = ANY(%s::varchar[])"
UPSERT = """
    INSERT INTO ticket AS t (app_id, record_hash, level, channel, location, module,
        first_occurrence_time, last_occurrence_time, occurrence_count, solved, status)
    SELECT u.*, false, 'open' FROM unnest(%s::varchar[], %s::varchar[], %s::integer[],
        %s::varchar[], %s::varchar[], %s::varchar[], %s::timestamp[], %s::timestamp[],
        %s::bigint[]) AS u
    ON CONFLICT (app_id, record_hash) DO UPDATE SET
        occurrence_count = t.occurrence_count + excluded.occurrence_count,
        first_occurrence_time = LEAST(t.first_occurrence_time, excluded.first_occurrence_time),
        last_occurrence_time = GREATEST(t.last_occurrence_time, excluded.last_occurrence_time),
        status = CASE WHEN t.status = 'solved' THEN 'regressed' ELSE t.status END,
        solved = false
    RETURNING app_id, record_hash, ticket_id
"""
COPY = (
    'COPY ticket_occurrence (ticket_id, "time", app_id, data, occurrence_key) '
    "FROM STDIN (FORMAT BINARY)"
)


def _naive(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def _write_batch(pg: psycopg.Connection, batch: list[tuple[TicketRecord, str]]) -> None:
    """One transaction: key lookup, ticket upsert, occurrence COPY (what storage sends)."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for record, _ in batch:
        group = groups.get((record.app_id, record.record_hash))
        if group is None:
            groups[(record.app_id, record.record_hash)] = [record, record.time, record.time, 1]
        else:
            group[1], group[2] = min(group[1], record.time), max(group[2], record.time)
            group[3] += 1
    keys = sorted(groups)
    ordered = [groups[key] for key in keys]
    with pg.cursor() as cursor:
        cursor.execute(LOOKUP, ([record.occurrence_key for record, _ in batch],))
        cursor.fetchall()
        cursor.execute(UPSERT, (
            [app_id for app_id, _ in keys], [key for _, key in keys],
            [g[0].level for g in ordered], [g[0].channel for g in ordered],
            [g[0].location for g in ordered], [g[0].module for g in ordered],
            [_naive(g[1]) for g in ordered], [_naive(g[2]) for g in ordered],
            [g[3] for g in ordered],
        ))
        ids = {(app_id, key): ticket_id for app_id, key, ticket_id in cursor.fetchall()}
        with cursor.copy(COPY) as copy:
            copy.set_types(["bigint", "timestamp", "varchar", "text", "varchar"])
            for record, text in batch:
                ticket_id = ids[(record.app_id, record.record_hash)]
                copy.write_row(
                    (ticket_id, _naive(record.time), record.app_id, text, record.occurrence_key))
    pg.commit()


def bare_tickets(
    url: str, admin_url: str, prepared: list[TicketRecord], batch_size: int = 1000,
    drop_fk: bool = False,
) -> tuple[float, float, float]:
    """Records stored per second, client and server CPU µs per record, into a fresh ``url``."""
    conn = storage.get_connection(url, require=[storage.Capability.TICKETS])
    conn.upgrade()
    conn.close()
    rows = [(record, json.dumps(record.data, ensure_ascii=False, separators=(",", ":")))
            for record in prepared]
    with psycopg.connect(url.replace("+psycopg", "")) as pg:
        if drop_fk:
            pg.execute("ALTER TABLE ticket_occurrence DROP CONSTRAINT fk_ticket_occ_ticket_id")
            pg.commit()
        server = ServerCPU(admin_url, url.rsplit("/", 1)[1])
        server.start()
        cpu, started = time.process_time(), time.perf_counter()
        for start in range(0, len(rows), batch_size):
            _write_batch(pg, rows[start : start + batch_size])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_cpu = server.seconds()
        stored = pg.execute("SELECT count(*) FROM ticket_occurrence").fetchone()
    if stored is None or stored[0] != len(rows):
        raise SystemExit(f"bare COPY stored {stored} of {len(rows)}")
    count = len(rows)
    return count / elapsed, cpu / count * 1e6, server_cpu / count * 1e6


def handler_records(count: int, seed: int) -> list[TicketRecord]:
    """The corpus's stdlib records as the queued handler's writer thread prepares them."""
    from ticket_handler import stdlib_records

    from pipeline.ticket_batches import MESSAGE_ATTRIBUTE, TicketBatches
    from pipeline.ticketing import TicketingHandler

    batch = stdlib_records(records(count, seed))
    for record in batch:
        record.__dict__[MESSAGE_ATTRIBUTE] = record.getMessage()
    handler = TicketingHandler("memory://", queue_size=count)
    try:
        return [built for _, built in TicketBatches(handler, TicketingHandler).prepare(batch)]
    finally:
        handler.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgresql-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    prepared = handler_records(args.count, args.seed)

    def contender(drop_fk: bool) -> Callable[[], tuple[float, ...]]:
        def write() -> tuple[float, ...]:
            with DATABASES["postgresql"](args) as url:
                return bare_tickets(url, args.postgresql_admin, prepared, args.batch_size, drop_fk)

        return write

    def report(round_: int, figures: Mapping[str, tuple[float, ...]]) -> None:
        for label, (stored, client, server) in figures.items():
            print(f"round {round_} {label:<30} {stored:9,.0f} stored/s "
                  f"{client:6.1f} client CPU µs/record {server:6.1f} PostgreSQL CPU "
                  f"µs/record (load {os.getloadavg()[0]:.1f})", flush=True)

    contenders = {"bare psycopg": contender(False), "bare psycopg, no foreign key": contender(True)}
    for label, medians in run_rounds(contenders, args.repeat, report).items():
        print(f"median {label:<30} " + " ".join(f"{figure:9,.1f}" for figure in medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
