"""Metrics and health probes of one ``pipeline consume`` run.

Set up in the process that ``pipeline consume`` starts, before any worker:
it prepares the metric files (:mod:`pipeline.metrics.files`), binds
``[metrics] listen`` (a port in use stops start-up) and serves from there
``/metrics`` (every worker's metrics merged, plus the service-wide ones of
:mod:`pipeline.metrics.exporter`), ``/healthz`` and ``/readyz``.

With ``workers = 1`` a thread of the one process serves. Otherwise a small
process of its own serves (forked first, it exits with the supervisor), so
the endpoint stays up while a worker is replaced and the supervisor stays
single-threaded: forking from a process whose other threads may hold a
lock (an import, a storage probe in progress) can leave the child
deadlocked on it forever. Each worker calls
:meth:`ConsumeMonitoring.worker_metrics` first thing; the supervisor reports
exited workers to :meth:`ConsumeMonitoring.worker_exited`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess

from oslo_config import cfg
from prometheus_client import Counter

from pipeline.metrics import exporter
from pipeline.metrics.consumer import ProcessMetrics
from pipeline.metrics.files import MetricFiles
from pipeline.metrics.probe import StorageProbe
from pipeline.metrics.server import Listener, application, parse_listen

LOG = logging.getLogger(__name__)
#: Seconds between two checks by the serving process that its parent still runs.
PARENT_CHECK = 0.5
#: The serving process's name in ps (Linux: /proc/PID/comm).
PROCESS_NAME = "pipeline-httpd"


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
            collector = exporter.ServiceCollector(self.files.collect, workers, self.probe)
            app = application(exporter.service_registry(collector), self.readiness)
            self.listener = Listener(address, app, "[metrics] listen")
        except BaseException:
            self.files.close()
            raise
        self._pid = os.getpid()
        self._server: BaseProcess | None = None
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
        """Start serving: from a thread with one worker, else from a process of its own."""
        if self.workers == 1:
            self.listener.start()
            return
        self._fork_server()

    def _fork_server(self) -> None:
        context = multiprocessing.get_context("fork")
        self._server = context.Process(target=self._serve_alone, name=PROCESS_NAME)
        self._server.start()

    def watch(self) -> None:
        """Replace the serving process if it died (the supervisor calls this often)."""
        if self._server is not None and self._server.exitcode is not None:
            LOG.error(
                "the metrics process (pid %s) exited with status %s; starting another",
                self._server.pid,
                self._server.exitcode,
            )
            self._server.close()
            self._fork_server()

    def _serve_alone(self) -> None:
        """The serving process: serve until the supervisor is gone or stops us."""
        parent = os.getppid()
        # Named for ps/top (Linux): a third process beside the workers is ours.
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write(PROCESS_NAME)
        # Ctrl-C reaches the whole process group; the supervisor stops us.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.listener.start()
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)

    def readiness(self) -> tuple[bool, dict[str, object]]:
        """Every worker consuming on every broker, and the storage answering."""
        return exporter.readiness(self.files.collect(), self.workers, self.probe)

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
        if self._server is not None:
            self._server.terminate()
            self._server.join(10)
        self.listener.close()
        self.probe.close()
        self.files.close()
