"""What ``pipeline consume`` exposes: the workers' merged metrics plus service-wide ones.

The serving process (the supervisor, or the only worker) merges the
workers' metric files and adds what only it knows, computed at scrape
time:

* ``pipeline_build_info{version}`` — always 1;
* ``pipeline_workers`` — worker processes configured;
* ``pipeline_seconds_since_last_commit`` — now minus the newest
  ``pipeline_last_commit_timestamp_seconds`` of the live workers;
* ``pipeline_storage_up`` and ``pipeline_tickets{status}`` — from the last
  storage probe (:mod:`pipeline.metrics.probe`, at most ``max_age`` old):
  whether the storage answered, and the store's tickets per status (all
  writers', counted by the storage; only for drivers that store tickets).

Readiness (:func:`readiness`) reads the same merged metrics: every worker's
every broker connection must be consuming, and the storage must answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Metric
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from pipeline import __version__
from pipeline.metrics.probe import ProbeResult, StorageProbe

#: Seconds a probe result may be reused by a scrape.
SCRAPE_PROBE_AGE = 15.0


class ServiceCollector(Collector):
    """The workers' merged metrics followed by the service-wide ones."""

    def __init__(
        self, collect: Callable[[], list[Metric]], workers: int, probe: StorageProbe | None
    ) -> None:
        self._collect = collect
        self.workers = workers
        self.probe = probe

    def collect(self) -> Iterator[Metric]:
        families = self._collect()
        yield from families
        info = GaugeMetricFamily(
            "pipeline_build_info", "pipeline's version (always 1)", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily(
            "pipeline_workers", "Consumer worker processes configured", value=self.workers
        )
        commits = samples(families, "pipeline_last_commit_timestamp_seconds")
        if commits:
            yield GaugeMetricFamily(
                "pipeline_seconds_since_last_commit",
                "Seconds since the newest successful batch write of any live worker "
                "(or since the workers started)",
                value=max(0.0, time.time() - max(commits.values())),
            )
        if self.probe is not None:
            yield from _storage_families(self.probe.check(SCRAPE_PROBE_AGE))


def _storage_families(result: ProbeResult) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "pipeline_storage_up",
        "1 when the storage answered the last probe within [metrics] ready_timeout",
        value=1 if result.ok else 0,
    )
    if result.tickets:
        tickets = GaugeMetricFamily(
            "pipeline_tickets",
            "Tickets in the store per status (all writers; from the storage probe)",
            labels=["status"],
        )
        for status, count in sorted(result.tickets.items()):
            tickets.add_metric([status], count)
        yield tickets


def samples(families: list[Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Values of the samples named ``name``, keyed by their sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
        if sample.name == name
    }


def service_registry(collector: ServiceCollector) -> CollectorRegistry:
    """A registry exposing exactly ``collector``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def readiness(
    families: list[Metric], workers: int, probe: StorageProbe | None
) -> tuple[bool, dict[str, Any]]:
    """Ready when every worker consumes on each of its broker connections and storage answers.

    A worker counts once it has built its consumers (each one's
    ``pipeline_broker_connected`` exists from then on, 0 until it
    consumes); a feed with nothing to read gets no consumer and no series.
    Returns the verdict and a JSON-able account of each check.
    """
    by_worker: dict[str, dict[str, float]] = {}
    for labels, value in samples(families, "pipeline_broker_connected").items():
        found = dict(labels)
        by_worker.setdefault(found["worker"], {})[found["broker"]] = value
    missing = []
    for worker in map(str, range(workers)):
        connections = by_worker.get(worker)
        if not connections:
            missing.append(f"worker {worker} (not started)")
        missing += [
            f"worker {worker} on {broker}"
            for broker, state in sorted(connections.items() if connections else ())
            if state != 1
        ]
    body: dict[str, Any] = {"broker": {"ok": not missing, "not consuming": missing}}
    ok = not missing
    if probe is not None:
        result = probe.check()
        body["storage"] = {"ok": result.ok, "detail": result.detail, "seconds": result.seconds}
        ok = ok and result.ok
    body["ready"] = ok
    return ok, body
