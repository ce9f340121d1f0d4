"""Metrics and health probes of one ``pipeline consume`` run.

Set up in the process that ``pipeline consume`` starts, before any worker:
it prepares the metric files (:mod:`pipeline.metrics.files`), binds
``[metrics] listen`` (a port in use stops start-up) and serves from there
``/metrics`` (every worker's metrics merged, plus the service-wide ones of
:mod:`pipeline.metrics.exporter`), ``/healthz`` and ``/readyz``. With
``workers = 1`` that process is the worker; otherwise it is the supervisor,
which outlives its workers, so the endpoint stays up while a worker is
replaced. Each worker calls :meth:`ConsumeMonitoring.worker_metrics` first
thing; the supervisor reports exited workers to
:meth:`ConsumeMonitoring.worker_exited`.
"""

from __future__ import annotations

import os

from oslo_config import cfg
from prometheus_client import Counter

from pipeline.consume import topology
from pipeline.metrics import exporter
from pipeline.metrics.consumer import ProcessMetrics, broker_label
from pipeline.metrics.files import MetricFiles
from pipeline.metrics.probe import StorageProbe
from pipeline.metrics.server import Listener, application, parse_listen


class ConsumeMonitoring:
    """The metric files, the listener and the storage probe of one run."""

    def __init__(self, conf: cfg.ConfigOpts, workers: int, address: tuple[str, int]) -> None:
        self.conf = conf
        self.workers = workers
        self.files = MetricFiles(conf.metrics.multiprocess_dir)
        try:
            self.probe = StorageProbe(
                conf.metrics.ready_timeout, url=conf.database.connection, tickets=True
            )
            self.brokers = [broker_label(feed.url) for feed in topology.feeds(conf)]
            collector = exporter.ServiceCollector(self.files.collect, workers, self.probe)
            app = application(exporter.service_registry(collector), self.readiness)
            self.listener = Listener(address, app, "[metrics] listen")
        except BaseException:
            self.files.close()
            raise
        self._pid = os.getpid()
        self.restarts = Counter(
            "pipeline_worker_restarts",
            "Worker processes that exited unexpectedly and were replaced",
            registry=None,
        )

    @classmethod
    def from_config(cls, conf: cfg.ConfigOpts, workers: int) -> ConsumeMonitoring | None:
        """Monitoring as ``[metrics]`` asks (None when ``listen`` is empty)."""
        address = parse_listen(conf.metrics.listen)
        return None if address is None else cls(conf, workers, address)

    def start(self) -> None:
        """Start serving."""
        self.listener.start()

    def readiness(self) -> tuple[bool, dict[str, object]]:
        """Every worker consuming on every broker, and the storage answering."""
        return exporter.readiness(self.files.collect(), self.workers, self.brokers, self.probe)

    def worker_metrics(self, worker: int) -> ProcessMetrics:
        """The metrics of worker ``worker``; call first thing in the worker."""
        if os.getpid() != self._pid:
            # A forked worker: the supervisor serves, this copy of the socket must go.
            self.listener.forget()
        return ProcessMetrics(worker, self.conf.metrics.event_type_labels)

    def worker_exited(self, slot: int, pid: int, replaced: bool) -> None:
        """Retire an exited worker's gauges; count it when it is being replaced."""
        self.files.process_exited(pid)
        if replaced:
            self.restarts.inc()

    def close(self) -> None:
        """Stop serving and clean up the metric files."""
        self.listener.close()
        self.probe.close()
        self.files.close()
