"""Conversion throughput: notifications → events in one process.

Usage (from anywhere)::

    python benchmarks/convert.py [--count 20000] [--repeat 5] [--batch 500]
                                 [--seed 1] [--v2-share 0.5] [--definitions FILE]

The corpus (benchmarks/corpus.py, seeded) is generated before timing. Two
rates are measured, each the best of ``--repeat`` runs:

- ``convert``: ``EventConverter.to_event`` on decoded notification dicts
  (what Ceilometer's converter did, ~2,900/s on the project machine);
- ``decode+convert``: ``decode_notification`` on the JSON wire bodies (a mix
  of oslo.messaging v1 and v2 envelopes) and then ``to_event``, i.e. the
  whole per-message cost of the consumer before storage.

Messages are processed in batches of ``--batch`` whose events stay alive
until the batch ends, as in the consumer, so garbage collection costs what
it costs there. The target from issue 3 is 15,000 notifications/s.
"""

from __future__ import annotations

import argparse
import collections
import gc
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import corpus
from pipeline.convert import EventConverter, decode_notification

TARGET = 15_000


def _rate(items: Sequence[Any], work: Callable[[Any], Any], batch: int) -> float:
    start = time.perf_counter()
    for offset in range(0, len(items), batch):
        events = [work(item) for item in items[offset:offset + batch]]
        del events
    return len(items) / (time.perf_counter() - start)


def _measure(name: str, items: Sequence[Any], work: Callable[[Any], Any], args: Any) -> float:
    rates = [_rate(items, work, args.batch) for _ in range(args.repeat)]
    print(f"{name:15s} best {max(rates):9,.0f}/s  median {statistics.median(rates):9,.0f}/s  "
          f"({args.repeat} runs of {len(items):,})")
    return max(rates)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when the conversion rate misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--v2-share", type=float, default=0.5)
    parser.add_argument("--definitions", default=None,
                        help="definitions YAML (default: the packaged definitions)")
    args = parser.parse_args(argv)

    converter = EventConverter.from_file(args.definitions)
    bodies = corpus.bodies(args.count, args.seed, args.v2_share)
    notifications = [decode_notification(body) for body in bodies]
    events = [converter.to_event(n) for n in notifications]
    traits = sum(len(e.traits) for e in events if e is not None)
    services = collections.Counter(n["publisher_id"].split(".")[0] for n in notifications)
    print(f"python {platform.python_version()}, {len(bodies):,} notifications "
          f"({sum(map(len, bodies)) / len(bodies):,.0f} bytes avg, "
          f"{traits / len(events):.1f} traits/event), {dict(services.most_common())}")
    del events
    # The corpus is set-up, not workload: keep the collector from re-scanning
    # it, as a consumer holds only one batch at a time.
    gc.collect()
    gc.freeze()

    try:
        convert_rate = _measure("convert", notifications, converter.to_event, args)
        _measure("decode+convert", bodies,
                 lambda body: converter.to_event(decode_notification(body)), args)
    finally:
        gc.unfreeze()
    verdict = "meets" if convert_rate >= TARGET else "MISSES"
    print(f"convert {verdict} the target of {TARGET:,}/s")
    return 0 if convert_rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
