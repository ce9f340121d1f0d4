"""Where the worker processes of one ``pipeline consume`` run keep their metrics.

prometheus_client's multiprocess mode: every process writes its metric
values to memory-mapped files named after its pid in one directory, and
whoever serves ``/metrics`` merges the files at scrape time — counters and
histograms summed over processes (a dead worker's counts stay in the sums,
so counters never go backwards when a worker is replaced), gauges per their
mode (``livemax``: the files of a dead process are retired by
:meth:`MetricFiles.process_exited`).

The directory belongs to one run: a fresh temporary directory (removed at
exit) or ``[metrics] multiprocess_dir``, whose ``*.db`` files are deleted at
start so that a previous run's counts never leak into this one's. A run
killed with SIGKILL cannot remove its temporary directory; its name carries
the pid of the process that made it, and the next run removes the
directories whose process is gone.

prometheus_client picks its value class from the environment
(``PROMETHEUS_MULTIPROC_DIR``) when first imported; :class:`MetricFiles`
sets the variable (inherited by forked workers) and switches the value
class even if the module was imported before.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Metric, multiprocess, values

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "pipeline-metrics-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def remove_abandoned(parent: str | None = None) -> list[str]:
    """Remove temporary metric directories left by runs whose process is gone.

    Only directories named by :class:`MetricFiles` (``pipeline-metrics-<pid>-…``)
    in ``parent`` (the temporary directory by default) are considered; a
    directory whose pid is alive — or reused by another process — is kept.
    Returns the paths removed.
    """
    removed = []
    for path in glob.glob(os.path.join(parent or tempfile.gettempdir(), PREFIX + "*")):
        pid_text = os.path.basename(path)[len(PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            with contextlib.suppress(OSError):
                shutil.rmtree(path)
                removed.append(path)
    return removed


class _Collector(multiprocess.MultiProcessCollector):
    """prometheus_client's merge of the files, passing over a file not sized yet.

    A process creates its file before sizing it, so a scrape can meet it
    empty, and reading it failed the whole scrape (HTTP 500). An empty file
    holds no sample yet. (A live gauge's file removed by
    :meth:`MetricFiles.process_exited` during a scrape is passed over by
    prometheus_client itself.)
    """

    def collect(self) -> Iterable[Metric]:
        return self.merge(_written_files(self._path), accumulate=True)


def _written_files(directory: str) -> list[str]:
    """The ``*.db`` files of ``directory`` that hold at least their header."""
    found = []
    for path in glob.glob(os.path.join(directory, "*.db")):
        with contextlib.suppress(OSError):  # gone meanwhile: nothing to read
            if os.path.getsize(path) > 0:
                found.append(path)
    return found


class MetricFiles:
    """The metric files directory of one run, set up for this process and its children."""

    def __init__(self, directory: str | None = None) -> None:
        if directory:
            os.makedirs(directory, exist_ok=True)
            for stale in glob.glob(os.path.join(directory, "*.db")):
                os.remove(stale)
            self.path, self._owned = directory, False
        else:
            remove_abandoned()
            self.path, self._owned = (
                tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"),
                True,
            )
        self._previous = (os.environ.get(ENVIRONMENT), values.ValueClass)
        os.environ[ENVIRONMENT] = self.path
        if not getattr(values.ValueClass, "_multiprocess", False):
            values.ValueClass = values.get_value_class()

    def collect(self) -> list[Metric]:
        """Every metric family, merged over the files of all processes."""
        return list(_Collector(None, self.path).collect())

    def registry(self) -> CollectorRegistry:
        """A registry that exposes the merged files (for the exposition)."""
        registry = CollectorRegistry()
        _Collector(registry, self.path)
        return registry

    def process_exited(self, pid: int) -> None:
        """Retire the live gauges of process ``pid`` (its counters stay in the sums)."""
        multiprocess.mark_process_dead(pid, self.path)

    def close(self) -> None:
        """Restore the environment; remove the directory if it was a temporary one."""
        previous_env, previous_class = self._previous
        if previous_env is None:
            os.environ.pop(ENVIRONMENT, None)
        else:
            os.environ[ENVIRONMENT] = previous_env
        values.ValueClass = previous_class
        if self._owned:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.path)
