"""End-to-end throughput of ``pipeline consume``: RabbitMQ in, PostgreSQL out.

For each run, N seeded notifications (``benchmarks/corpus.py``, half in the
oslo.messaging v2 envelope) are published to RabbitMQ on exchanges and
queues of the run's own, *then* timed:

* **bare** — a kombu consumer that only acknowledges (prefetch 1000, one
  ``multiple=True`` ack per 500 messages): the broker's ceiling on this
  machine;
* **e2e** — ``pipeline consume --workers W`` started as a process, from its
  start until PostgreSQL holds N events (decode, convert, store, ack).

Peak RSS is the largest VmHWM of the consumer processes (parent and
workers). Everything is deleted afterwards (queues, exchanges, database).

``--metrics on,off`` runs each configuration with the Prometheus metrics on
(``[metrics] listen`` on a free port, scraped every ``--scrape-every``
seconds while it runs, as Prometheus would) and off, alternating the order
on each ``--repeat`` so that drift on a shared machine hits both alike, and
prints the mean and spread of each and their difference.

    python benchmarks/e2e.py --count 100000 --workers 1,2
    python benchmarks/e2e.py --count 50000 --workers 1 --metrics on,off --repeat 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import kombu
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import corpus

AMQP_URL = os.environ.get("PIPELINE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
#: Runs the ``pipeline`` command with this interpreter, installed or not.
CLI = "import sys; from pipeline.cli import main; sys.exit(main())"
PG_ADMIN = os.environ.get("PIPELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its plain libpq URL."""
    name = f"pipeline_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def publish(bodies: list[bytes], exchange: str, routing_keys: list[str]) -> float:
    """Publish persistently with publisher confirms; return seconds taken."""
    started = time.perf_counter()
    with kombu.Connection(AMQP_URL) as conn:
        producer = kombu.Producer(conn.default_channel)
        for body, key in zip(bodies, routing_keys, strict=True):
            producer.publish(
                body, exchange=exchange, routing_key=key, delivery_mode=2,
                content_type="application/json", content_encoding="utf-8",
            )
    return time.perf_counter() - started


def bare_consume(bodies: list[bytes], tag: str) -> float:
    """Seconds a kombu consumer takes to receive and ack every message."""
    name = f"bench-{tag}-bare"
    with kombu.Connection(AMQP_URL) as conn:
        queue = kombu.Queue(name, kombu.Exchange(name, "direct", durable=True), name,
                            durable=True)
        queue.bind(conn.default_channel).declare()
        publish(bodies, name, [name] * len(bodies))
        received: list[int] = []
        channel = conn.channel()

        def on_message(message: kombu.Message) -> None:
            received.append(message.delivery_tag)
            if len(received) % 500 == 0:
                channel.basic_ack(message.delivery_tag, multiple=True)

        started = time.perf_counter()
        with kombu.Consumer(channel, [queue], on_message=on_message, prefetch_count=1000):
            while len(received) < len(bodies):
                conn.drain_events(timeout=10)
        if len(received) % 500:
            channel.basic_ack(received[-1], multiple=True)
        took = time.perf_counter() - started
        conn.default_channel.queue_delete(name)
        conn.default_channel.exchange_delete(name)
    return took


def count_events(url: str) -> int:
    with contextlib.suppress(psycopg.Error), psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM event").fetchone()
        return int(row[0]) if row else 0
    return 0


def peak_rss_kib(pid: int) -> int:
    """Largest VmHWM among ``pid`` and its children."""
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    peak = 0
    for each in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak


def cpu_seconds(pid: int, only: str | None = None) -> float:
    """User + system CPU time so far of ``pid`` and its children (all their threads).

    ``only``: just the processes of that name (``/proc/PID/comm``).
    """
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    ticks = 0
    for each in pids:
        with contextlib.suppress(OSError):
            if only is not None and Path(f"/proc/{each}/comm").read_text().strip() != only:
                continue
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def declare_topology(config: Path) -> None:
    """Declare the exchanges and queues ``pipeline consume`` reads with ``config``."""
    from pipeline.consume import topology
    from pipeline.consume.declaring import ensure_topology
    from pipeline.service import prepare_service

    conf = prepare_service([], config_files=[str(config)])
    with kombu.Connection(AMQP_URL) as conn:
        for feed in topology.feeds(conf):
            ensure_topology(conn, conf, feed)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Scraper:
    """GET /metrics every ``every`` seconds until stopped; counts the scrapes that worked."""

    def __init__(self, port: int, every: float) -> None:
        self.url, self.every = f"http://127.0.0.1:{port}/metrics", every
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url, timeout=5) as r:
                r.read()
                self.scrapes += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def e2e_consume(bodies: list[bytes], keys: list[str], tag: str, workers: int,
                batch_size: int, metrics: bool = False,
                scrape_every: float = 5.0) -> dict[str, float]:
    """Publish to the pipeline topology, then time ``pipeline consume`` draining it."""
    exchange, queue = f"bench-{tag}-nova", f"bench-{tag}-events"
    port = free_port()
    listen = f"127.0.0.1:{port}" if metrics else ""
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "pipeline.conf")
        config.write_text(
            f"[DEFAULT]\ntransport_url = {AMQP_URL}\n"
            f"[database]\nconnection = {url.replace('postgresql://', 'postgresql+psycopg://')}\n"
            # One queue of the run's own (a pool), durable as in earlier runs.
            f"[notification]\nexchanges = {exchange}\npool = {queue}\n"
            f"dead_letter_exchange = bench-{tag}-dlx\ndead_letter_queue = bench-{tag}-dead\n"
            f"batch_size = {batch_size}\nworkers = {workers}\nstats_interval = 0\n"
            f"[ticketing]\nqueue = bench-{tag}-logging\n"
            "[oslo_messaging_rabbit]\namqp_durable_queues = true\n"
            f"[metrics]\nlisten = {listen}\n"
        )
        command = [sys.executable, "-c", CLI, "--config-file", str(config)]
        subprocess.run([*command, "dbsync"], check=True, capture_output=True)
        # Declare what the consumer reads, as it would itself, then publish.
        declare_topology(config)
        publish(bodies, exchange, keys)
        log = Path(tmp, "consume.log")
        with log.open("wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen([*command, "consume"], stdout=out, stderr=subprocess.STDOUT)
            scraper = Scraper(port, scrape_every) if metrics else None
            peak = 0
            while count_events(url) < len(bodies):
                peak = max(peak, peak_rss_kib(proc.pid))
                if proc.poll() is not None:
                    raise SystemExit(f"consumer exited: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            took = time.perf_counter() - started
            cpu = cpu_seconds(proc.pid)
            serving = cpu_seconds(proc.pid, only="pipeline-httpd")
            scrapes = 0
            if scraper is not None:
                scraper.stop()
                scrapes = scraper.scrapes
            proc.terminate()
            proc.wait(60)
        with kombu.Connection(AMQP_URL) as conn:
            channel = conn.default_channel
            for name in (queue, f"bench-{tag}-dead", f"bench-{tag}-logging"):
                channel.queue_delete(name)
            for name in (exchange, f"bench-{tag}-dlx", f"bench-{tag}-logging"):
                channel.exchange_delete(name)
    return {
        "seconds": took, "peak_rss_mib": peak / 1024, "scrapes": scrapes, "cpu": cpu,
        "serving_cpu": serving,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--metrics", default="on",
                        help="comma-separated: on (metrics served and scraped), off")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration")
    parser.add_argument("--scrape-every", type=float, default=5.0, metavar="SECONDS")
    args = parser.parse_args()
    bodies = corpus.bodies(args.count, seed=1)
    keys = [
        f"notifications.{json.loads(json.loads(b)['oslo.message'])['priority'].lower()}"
        if b'"oslo.message"' in b else f"notifications.{json.loads(b)['priority'].lower()}"
        for b in bodies
    ]
    tag = uuid.uuid4().hex[:8]
    bare = bare_consume(bodies, tag)
    bare_rate = args.count / bare
    print(f"bare kombu consumer: {args.count} msgs in {bare:.2f}s = {bare_rate:,.0f} msg/s")
    settings = [setting.strip() == "on" for setting in args.metrics.split(",")]
    for workers in (int(w) for w in args.workers.split(",")):
        rates: dict[bool, list[float]] = {setting: [] for setting in settings}
        cpu: dict[bool, list[float]] = {setting: [] for setting in settings}
        for run in range(args.repeat):
            # Alternate the order so that a machine getting busier hits both alike.
            for metrics in settings if run % 2 == 0 else settings[::-1]:
                result = e2e_consume(bodies, keys, f"{tag}w{workers}r{run}m{int(metrics)}",
                                     workers, args.batch_size, metrics, args.scrape_every)
                rate = args.count / result["seconds"]
                rates[metrics].append(rate)
                cpu[metrics].append(1e6 * result["cpu"] / args.count)
                print(
                    f"pipeline consume workers={workers} metrics={'on' if metrics else 'off'}: "
                    f"{args.count} msgs in {result['seconds']:.2f}s = {rate:,.0f} msg/s = "
                    f"{100 * rate / bare_rate:.0f}% of bare; peak RSS "
                    f"{result['peak_rss_mib']:.0f} MiB; {result['scrapes']:.0f} scrapes; "
                    f"{1e6 * result['cpu'] / args.count:.0f} CPU µs/msg "
                    f"({result['serving_cpu']:.2f} s in pipeline-httpd); "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        if len(settings) == 2 and args.repeat > 1:
            summarise(workers, rates, cpu)


def summarise(workers: int, rates: dict[bool, list[float]], cpu: dict[bool, list[float]]) -> None:
    """Mean, spread and difference of the runs with metrics on and off (rate and CPU)."""
    on, off = statistics.mean(rates[True]), statistics.mean(rates[False])
    for label, values in (("on", rates[True]), ("off", rates[False])):
        mean = statistics.mean(values)
        print(
            f"workers={workers} metrics {label}: mean {mean:,.0f} msg/s, min {min(values):,.0f}, "
            f"max {max(values):,.0f}, stdev {statistics.stdev(values):,.0f} "
            f"({100 * statistics.stdev(values) / mean:.1f}%)"
        )
    print(f"workers={workers}: metrics on is {100 * (on - off) / off:+.1f}% against off")
    cpu_on, cpu_off = statistics.mean(cpu[True]), statistics.mean(cpu[False])
    print(
        f"workers={workers}: CPU per message {cpu_on:.0f} µs on, {cpu_off:.0f} µs off "
        f"({100 * (cpu_on - cpu_off) / cpu_off:+.1f}%; stdev {statistics.stdev(cpu[True]):.0f} / "
        f"{statistics.stdev(cpu[False]):.0f} µs)"
    )


if __name__ == "__main__":
    main()
