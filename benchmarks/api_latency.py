"""Latency of ``GET /v2/events`` with trait filters over a big PostgreSQL store.

Loads ``--count`` events of the seeded corpus (:mod:`event_corpus`, about
fifteen traits each) into a new PostgreSQL database through
``record_events`` in batches of ``--batch-size``, serves the API with uvicorn
on a loopback port after an ``ANALYZE``, and times ``--requests``
HTTP requests per query shape with httpx, each with a different value drawn
from the stored events. Prints p50/p90/p99 in milliseconds.

    python benchmarks/api_latency.py --count 1000000
    python benchmarks/api_latency.py --url postgresql+psycopg://.../db  # reuse a loaded one

The database is dropped at the end unless ``--keep`` is given or ``--url``
names an existing one. Callers are identified by ``X-Bench-User-Id``,
``X-Bench-Project-Id`` and ``X-Bench-Roles`` headers through
:class:`TrustedHeaders`, an authenticator that exists only here: the
benchmark measures queries and scoping, not Keystone's token validation (the
API itself never trusts identity headers).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping

import httpx
import sqlalchemy as sa
import uvicorn
from alembic import command
from event_corpus import events

from pipeline import storage
from pipeline.api import create_app
from pipeline.api.auth import Identity
from pipeline.service import prepare_service
from pipeline.storage.impl_sqlalchemy.connection import alembic_config

ADMIN = {"X-User-Id": "bench", "X-Project-Id": "admin-project", "X-Roles": "admin"}


class TrustedHeaders:
    """Benchmark-only authenticator: the identity headers are the identity."""

    strategy = "keystone"  # the Keystone scoping rules, without a Keystone
    sign_in_fields: tuple[str, ...] = ()
    challenge: Mapping[str, str] = {}

    async def from_headers(self, headers: object, method: str, path: str) -> Identity:
        get = headers.get  # type: ignore[attr-defined]
        roles = frozenset(r.strip().lower() for r in get("x-bench-roles", "").split(","))
        return Identity(get("x-bench-user-id"), get("x-bench-project-id"), roles, "keystone")

    async def from_session(self, *_: object) -> None:
        return None

    async def sign_in(self, *_: object) -> None:
        raise NotImplementedError

    async def sign_out(self, *_: object) -> None:
        return None


def bench_headers(headers: dict[str, str]) -> dict[str, str]:
    """The identity headers under names the API's header stripping leaves alone."""
    return {"X-Bench-" + name[2:]: value for name, value in headers.items()}


@contextlib.contextmanager
def new_database(admin_url: str, keep: bool) -> Iterator[str]:
    """A new PostgreSQL database; dropped afterwards unless ``keep``."""
    import psycopg

    name = f"pipeline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyze(url: str) -> None:
    """Refresh the planner's statistics, as autovacuum does some time after a bulk load.

    Without them PostgreSQL estimates one row per trait condition and sorts
    every match instead of walking the time index.
    """
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    print(f"ANALYZE took {time.perf_counter() - started:.0f} s")


def load(conn: storage.Connection, count: int, batch: int, days: int = 1) -> dict[str, list[str]]:
    """Write ``count`` events; return sample trait values to query with."""
    samples: dict[str, list[str]] = {"project_id": [], "user_id": [], "instance_id": [],
                                     "scope": []}
    started = time.perf_counter()
    for seed, offset in enumerate(range(0, count, batch)):
        chunk = events(min(batch, count - offset), seed=seed + 1, days=days)
        result = conn.record_events(chunk)
        if result.failed:
            raise SystemExit(f"events failed: {list(result.failed.items())[:3]}")
        for event in chunk[:3]:
            traits = {t.name: t.value for t in event.traits}
            samples["project_id"].append(traits["project_id"])
            samples["scope"].append(f"{traits['project_id']} {traits['user_id']}")
            if "instance_id" in traits:
                samples["instance_id"].append(traits["instance_id"])
        done = offset + len(chunk)
        if seed % 20 == 0 or done == count:
            rate = done / (time.perf_counter() - started)
            print(f"  loaded {done:,} events ({rate:,.0f}/s)", flush=True)
    return samples


def samples_from_api(base: str) -> dict[str, list[str]]:
    """Sample trait values of an already loaded database, through the API."""
    samples: dict[str, list[str]] = {"project_id": [], "user_id": [], "instance_id": [],
                                     "scope": []}
    params = {"q.field": "all_tenants", "q.value": "true", "limit": "1000",
              "sort": "message_id:asc"}
    found = httpx.get(f"{base}/v2/events", params=params, headers=bench_headers(ADMIN),
                      timeout=60).json()
    for event in found:
        traits = {t["name"]: t["value"] for t in event["traits"]}
        samples["project_id"].append(traits["project_id"])
        samples["scope"].append(f"{traits['project_id']} {traits['user_id']}")
        if "instance_id" in traits:
            samples["instance_id"].append(traits["instance_id"])
    return samples


def shapes(samples: dict[str, list[str]]) -> dict[str, object]:
    """Query shapes: name -> function of a random generator giving (params, headers)."""
    def trait(field: str, type_name: str, value: str) -> dict[str, object]:
        # all_tenants: the admin looks across projects, as an operator would
        return {"q.field": [field, "all_tenants"], "q.op": ["eq", "eq"],
                "q.type": [type_name, "string"], "q.value": [value, "true"], "limit": "100"}

    return {
        "instance_id eq (1 match)": lambda rng: (
            trait("instance_id", "string", rng.choice(samples["instance_id"])), ADMIN),
        "project_id eq, limit 100": lambda rng: (
            trait("project_id", "string", rng.choice(samples["project_id"])), ADMIN),
        "memory_mb=4096 (int), limit 100": lambda rng: (
            trait("memory_mb", "integer", "4096"), ADMIN),
        "non-admin scope (project+user), limit 100": lambda rng: (
            {"limit": "100"}, {"X-Roles": "member",
                               **dict(zip(("X-Project-Id", "X-User-Id"),
                                          rng.choice(samples["scope"]).split(), strict=True))}),
    }


@contextlib.contextmanager
def serve(url: str) -> Iterator[str]:
    """The API over ``url`` under uvicorn in a thread; yields its base URL."""
    conf = prepare_service([], config_files=[])
    conf.set_override("connection", url, group="database")
    app = create_app(conf, auth=TrustedHeaders())  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def measure(base: str, samples: dict[str, list[str]], requests: int) -> None:
    """Print p50/p90/p99 per query shape."""
    rng = random.Random(7)
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, make in shapes(samples).items():
            timings, sizes = [], []
            for attempt in range(requests + 5):
                params, headers = make(rng)  # type: ignore[operator]
                started = time.perf_counter()
                response = client.get("/v2/events", params=params,
                                      headers=bench_headers(headers))
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {response.status_code} {response.text}")
                if attempt >= 5:  # the first few warm caches and the pool
                    timings.append(elapsed)
                    sizes.append(len(response.json()))
            cuts = statistics.quantiles(timings, n=100)
            print(f"{name:45s} p50 {cuts[49]:7.1f} ms  p90 {cuts[89]:7.1f} ms  "
                  f"p99 {cuts[98]:7.1f} ms  ({statistics.mean(sizes):.0f} events/response)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--days", type=int, default=1, help="days the events' times span")
    parser.add_argument(
        "--previous-layout",
        action="store_true",
        help="PostgreSQL: keep the schema at revision 0004 (one row per trait, as before)",
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--url", help="an already loaded database (skips loading; kept)")
    parser.add_argument("--keep", action="store_true", help="keep the new database")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(new_database(args.admin_url, args.keep))
        samples = None
        if not args.url:
            conn = storage.get_connection(url)
            try:
                if args.previous_layout:  # the SQL driver's own layout, as before 0005
                    with conn.engine.begin() as sql:  # type: ignore[attr-defined]
                        command.upgrade(alembic_config(sql), "0004")
                else:
                    conn.upgrade()
                started = time.perf_counter()
                samples = load(conn, args.count, args.batch_size, args.days)
                print(f"loaded {args.count:,} events in {time.perf_counter() - started:.0f} s")
            finally:
                conn.close()
            analyze(url)
        with serve(url) as base:
            measure(base, samples or samples_from_api(base), args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
