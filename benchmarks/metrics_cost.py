"""CPU the Prometheus metrics add to the consumer, per message, measured in one process.

The end-to-end benchmark (``e2e.py --metrics on,off``) times the whole
system on a shared machine, where wall-clock noise is larger than the
effect. This one isolates the consumer's own work: N seeded notifications
(``benchmarks/corpus.py``) go through the real consumer, converters and
batching on kombu's in-memory transport into the memory storage driver,
once with metrics on (prometheus_client's multiprocess files, exactly as
``pipeline consume`` runs them, backlog looks included) and once off,
alternating over ``--repeat`` runs; the figure is the process CPU time
(``time.process_time``) from start until every message is acknowledged.
With storage this cheap the metrics are a larger share than in a real
deployment: an upper bound.

    python benchmarks/metrics_cost.py --count 20000 --repeat 6
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import kombu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import corpus
from pipeline.consume import topology
from pipeline.consume.declaring import ensure_topology
from pipeline.consume.service import build_consumer
from pipeline.metrics.consumer import ProcessMetrics
from pipeline.metrics.files import MetricFiles
from pipeline.service import prepare_service
from pipeline.storage import get_connection


def run(bodies: list[bytes], metrics: bool, batch_size: int) -> float:
    """CPU seconds to consume ``bodies`` (metrics on or off)."""
    tag = uuid.uuid4().hex[:8]
    conf = prepare_service([], config_files=[])
    conf.set_override("transport_url", "memory://")
    conf.set_override("exchanges", [f"nova-{tag}"], "notification")
    conf.set_override("pool", f"pool-{tag}", "notification")
    conf.set_override("dead_letter_exchange", f"dlx-{tag}", "notification")
    conf.set_override("dead_letter_queue", f"dead-{tag}", "notification")
    conf.set_override("queue", f"logging-{tag}", "ticketing")
    conf.set_override("batch_size", batch_size, "notification")
    conf.set_override("stats_interval", 0, "notification")
    with kombu.Connection("memory://") as conn:
        ensure_topology(conn, conf, topology.Feed("memory://", True, False))
        producer = kombu.Producer(conn.default_channel)
        for body in bodies:
            producer.publish(body, exchange=f"nova-{tag}", routing_key="notifications.info",
                             content_type="application/json", content_encoding="utf-8")
    with tempfile.TemporaryDirectory() as directory:
        files = MetricFiles(directory) if metrics else None
        try:
            process = ProcessMetrics(0) if metrics else None
            consumer = build_consumer(conf, get_connection("memory://"), metrics=process)
            gc.collect()  # the previous run's garbage is not this run's cost
            started = time.process_time()
            thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
            thread.start()
            while consumer.stats.totals.messages < len(bodies):
                time.sleep(0.01)
            took = time.process_time() - started
            consumer.stop()
            thread.join(30)
        finally:
            if files is not None:
                files.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    bodies = corpus.bodies(args.count, seed=1)
    run(bodies[:1000], True, args.batch_size)  # warm-up: imports, caches
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for number in range(args.repeat):
        for metrics in (True, False) if number % 2 == 0 else (False, True):
            seconds = run(bodies, metrics, args.batch_size)
            cpu[metrics].append(1e6 * seconds / args.count)
            print(f"run {number} metrics {'on ' if metrics else 'off'}: "
                  f"{cpu[metrics][-1]:.1f} CPU µs/msg", flush=True)
    on, off = statistics.mean(cpu[True]), statistics.mean(cpu[False])
    for label, values in (("on", cpu[True]), ("off", cpu[False])):
        print(f"metrics {label}: mean {statistics.mean(values):.1f} µs/msg, "
              f"min {min(values):.1f}, max {max(values):.1f}, "
              f"stdev {statistics.stdev(values):.1f}")
    print(f"metrics on costs {on - off:+.1f} µs/msg = {100 * (on - off) / off:+.1f}% CPU")


if __name__ == "__main__":
    main()
