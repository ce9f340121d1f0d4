"""Log records/s through ``Connection.record_tickets`` per storage backend.

A seeded corpus (:mod:`log_corpus`: ~200 call sites, Zipf-distributed,
varying messages) is grouped once with :func:`pipeline.convert.tickets.ticket_record`
(timed separately), then written in batches of ``--batch-size`` into a fresh
database per run. Only the writes are timed for the storage figures.

    python benchmarks/tickets.py --backends sqlite,postgresql,mysql --count 50000

``--keys`` gives every record an occurrence key (a UUID, as the consumer
gives each delivered record its message's id), so the writes also look
those keys up and index them; without it records carry none, as
``TicketingHandler`` writes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
import uuid

from log_corpus import records
from record_events import DATABASES

from pipeline import storage
from pipeline.convert.tickets import ticket_record
from pipeline.models import TicketRecord

BACKENDS = ("memory", "sqlite", "postgresql", "mysql", "mongodb")


def measure(url: str, corpus: list[TicketRecord], batch_size: int) -> float:
    """Seconds taken to record ``corpus`` in batches into an upgraded ``url``."""
    conn = storage.get_connection(url, require=[storage.Capability.TICKETS])
    try:
        conn.upgrade()
        started = time.perf_counter()
        for start in range(0, len(corpus), batch_size):
            result = conn.record_tickets(corpus[start : start + batch_size])
            if result.failed:
                raise SystemExit(f"{url}: records failed: {dict(list(result.failed.items())[:3])}")
        elapsed = time.perf_counter() - started
        total = sum(t.occurrence_count for t in conn.get_tickets(limit=None))
    finally:
        conn.close()
    if total != len(corpus):
        raise SystemExit(f"{url}: counted {total} of {len(corpus)} records")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql",
                        help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("--count", type=int, default=50000, help="records per run")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grouping", default="location", choices=("location", "logbook", "template"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend, each on a new DB")
    parser.add_argument("--postgresql-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--mysql-host", default="127.0.0.1:3306")
    parser.add_argument("--mongodb-url", default=None)
    parser.add_argument("--keys", action="store_true",
                        help="give every record an occurrence key, as the consumer does")
    parser.add_argument("--handlers", type=int, default=0, metavar="N",
                        help="also time logbook's and pipeline's TicketingHandler on SQLite, "
                        "N records each (ticket_handler.py does more)")
    args = parser.parse_args(argv)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if set(backends) - set(BACKENDS):
        parser.error(f"unknown backends: {', '.join(sorted(set(backends) - set(BACKENDS)))}")
    raw = records(args.count, args.seed)
    started = time.perf_counter()
    corpus = [ticket_record(r, app_id="bench", grouping=args.grouping) for r in raw]
    grouping_rate = len(corpus) / (time.perf_counter() - started)
    if args.keys:
        corpus = [dataclasses.replace(r, occurrence_key=uuid.uuid4().hex) for r in corpus]
    keys = len({r.record_hash for r in corpus})
    print(f"{len(corpus)} records, {keys} tickets ({args.grouping}), batches of "
          f"{args.batch_size}{', occurrence keys' if args.keys else ''}; "
          f"grouping {grouping_rate:,.0f} records/s", flush=True)
    for name in backends:
        rates = []
        for _ in range(args.repeat):
            with DATABASES[name](args) as url:
                rates.append(len(corpus) / measure(url, corpus, args.batch_size))
        print(f"{name:<11} best {max(rates):>9,.0f} records/s, median "
              f"{statistics.median(rates):>9,.0f} records/s over {len(rates)} runs", flush=True)
    if args.handlers:
        import ticket_handler

        count = str(args.handlers)
        ticket_handler.main(["--backends", "sqlite", "--count", count, "--logbook-count", count,
                             "--seed", str(args.seed)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
