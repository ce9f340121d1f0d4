"""N consumer processes under one parent that restarts the ones that crash.

The parent only supervises: it forks ``workers`` children (each runs its
own consumer with its own broker and storage connections — competing
consumers on the same queues), forwards ``SIGHUP`` to them, and on
``SIGTERM``/``SIGINT`` forwards the stop and waits for every child to finish
its batch. A child that exits while no stop was requested is a crash: it is
logged and replaced, after a pause that grows while children keep crashing
quickly (so a broken configuration does not fork in a tight loop).

Each child runs ``target(slot)`` with its slot number (0..count-1; a
replacement gets the slot of the child it replaces), which names the
worker in logs and metrics. ``on_exit(slot, pid, replaced)``, when given,
hears of every child that exited (``replaced``: a crash about to be
replaced) so that its per-process metrics can be retired and the restart
counted; ``on_tick()``, when given, runs every loop (a fifth of a second)
while supervising.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

LOG = logging.getLogger(__name__)
#: A child that lived at least this long is considered healthy when it dies.
HEALTHY_AFTER = 10.0
#: Seconds children get to finish their batch after SIGTERM before SIGKILL.
STOP_TIMEOUT = 60.0
_SUPERVISED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _exit_cleanly(_signum: int, _frame: Any) -> None:
    # Nothing received yet, nothing to finish: leave at once (see service.py).
    os._exit(0)


class Supervisor:
    """Start ``count`` processes running ``target()`` and keep them running."""

    def __init__(
        self,
        target: Callable[[int], int],
        count: int,
        max_restart_delay: float = 30.0,
        on_exit: Callable[[int, int, bool], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ):
        self.target = target
        self.count = count
        self.max_restart_delay = max_restart_delay
        self.on_exit = on_exit
        self.on_tick = on_tick
        self._context = multiprocessing.get_context("fork")
        self._children: dict[int, tuple[BaseProcess, float]] = {}
        self._stopping = False
        self._restart_delay = 0.0
        self.restarts = 0

    def _child_main(self, slot: int) -> None:
        # Until the worker installs its own handlers, a stop means "exit
        # cleanly now" (nothing received yet) and a reload has nothing to do.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        signal.signal(signal.SIGINT, _exit_cleanly)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SUPERVISED_SIGNALS)
        os._exit(self.target(slot))

    def _spawn(self, slot: int) -> None:
        process = self._context.Process(
            target=self._child_main, args=(slot,), name=f"pipeline-consume-{slot}"
        )
        # Block stop/reload signals across the fork: a child must never run
        # the parent's handlers (it would forward signals to its siblings).
        # The child unblocks them once its own handlers are installed.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISED_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SUPERVISED_SIGNALS)
        self._children[slot] = (process, time.monotonic())
        LOG.info("started consumer worker %d (pid %s)", slot, process.pid)

    def _forward(self, signum: int) -> None:
        for process, _ in self._children.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signum)

    def _on_stop(self, signum: int, _frame: Any) -> None:
        LOG.info("signal %s: stopping %d workers", signum, len(self._children))
        self._stopping = True
        self._forward(signal.SIGTERM)

    def _on_hup(self, _signum: int, _frame: Any) -> None:
        self._forward(signal.SIGHUP)

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT; 0 when every child stopped cleanly."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        for slot in range(self.count):
            self._spawn(slot)
        while not self._stopping:
            self._reap()
            if self.on_tick is not None:
                self.on_tick()
            time.sleep(0.2)
        return self._wait_all()

    def _reap(self) -> None:
        for slot, (process, started) in list(self._children.items()):
            if process.is_alive() or self._stopping:
                continue
            lived = time.monotonic() - started
            LOG.error(
                "consumer worker %d (pid %s) exited with status %s after %.1fs; restarting",
                slot,
                process.pid,
                process.exitcode,
                lived,
            )
            if self.on_exit is not None and process.pid is not None:
                self.on_exit(slot, process.pid, True)
            process.close()
            del self._children[slot]
            if lived >= HEALTHY_AFTER:
                self._restart_delay = 0.0
            else:
                self._restart_delay = min(self.max_restart_delay, max(1.0, 2 * self._restart_delay))
            deadline = time.monotonic() + self._restart_delay
            while time.monotonic() < deadline and not self._stopping:
                time.sleep(0.1)
            if not self._stopping:
                self.restarts += 1
                self._spawn(slot)

    def _wait_all(self) -> int:
        deadline = time.monotonic() + STOP_TIMEOUT
        status = 0
        for slot, (process, _) in self._children.items():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                LOG.error("worker %d did not stop in time; killing it", slot)
                process.kill()
                process.join()
            if self.on_exit is not None and process.pid is not None:
                self.on_exit(slot, process.pid, False)
            if process.exitcode != 0:
                LOG.error(
                    "worker %d (pid %s) stopped with status %s", slot, process.pid, process.exitcode
                )
                status = 1
        return status
