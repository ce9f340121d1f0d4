"""A bounded in-memory queue that one background thread writes out in batches.

:class:`TicketWriter` is what makes :class:`~pipeline.ticketing.TicketingHandler`
non-blocking. The application's thread only appends to a deque (no lock,
no I/O): :meth:`TicketWriter.put` returns at once, and when ``queue_size``
records are already held (queued, or taken by the thread and not yet
stored) the new record is dropped, counted in :attr:`TicketWriter.dropped`,
and one warning is logged per episode (until the queue has drained again).

The thread wakes every ``batch_interval`` seconds, or as soon as
``batch_size`` records wait, or on :meth:`~TicketWriter.flush`, and writes
what is queued in batches of at most ``batch_size``: ``prepare`` turns a
batch into storable items once, ``store`` writes them. ``store`` raising
:class:`~pipeline.exceptions.StorageUnavailable` keeps the batch and
retries with exponential back-off (one warning when storage goes away,
one message when it is back); the retries send one item at a time until
one is stored, so an outage costs the thread little CPU (which it would
take from the application: threads share the GIL).

Processes: a forked child (gunicorn workers, multiprocessing) gets a fresh,
empty writer, since what the parent queued is the parent's to write; its
thread starts with the child's first record. At exit, :func:`flush_all`
gives every writer at most its ``flush_timeout`` (together, not one after
the other), from :mod:`atexit` and, for multiprocessing's children (which
end with ``os._exit``), from a multiprocessing finalizer.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from multiprocessing import util as mp_util
from typing import Any

from pipeline.exceptions import StorageUnavailable

LOG = logging.getLogger("pipeline.ticketing")

#: Every writer of this process, for the fork and exit hooks.
_LIVE: weakref.WeakSet[TicketWriter] = weakref.WeakSet()

#: Once the exit hook has run: no flush waits past this time.monotonic().
_exit_deadline: float | None = None

#: ``prepare(items) -> storable items`` and ``store(storable)`` (see TicketWriter).
Prepare = Callable[[list[Any]], list[Any]]
Store = Callable[[list[Any]], None]


class _Flush:
    """A marker in the queue: set once everything queued before it is written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class TicketWriter:
    """A bounded queue of records and the thread that stores them in batches.

    ``store(items)`` writes ``items`` and removes each item it has stored
    from the front of the list; if it raises ``StorageUnavailable``, what is
    left in the list is tried again later. Any other error drops the batch
    (logged with its traceback): the thread itself never dies.
    """

    #: First and longest pause between attempts while storage is unavailable (s).
    retry_initial = 0.05
    retry_max = 2.0

    def __init__(
        self,
        prepare: Prepare,
        store: Store,
        *,
        queue_size: int = 10000,
        batch_size: int = 2000,
        batch_interval: float = 0.2,
        flush_timeout: float = 5.0,
        name: str = "pipeline-tickets",
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be at least 1")
        if batch_interval <= 0 or flush_timeout < 0:
            raise ValueError("batch_interval must be positive and flush_timeout not negative")
        self.prepare, self.store = prepare, store
        self.queue_size, self.batch_size = queue_size, batch_size
        self.batch_interval, self.flush_timeout = batch_interval, flush_timeout
        self.name = name
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        """Empty queue, no thread, new locks: a new writer's state (and a forked child's)."""
        self._items: collections.deque[Any] = collections.deque()
        self._in_hand = 0  # taken by the thread, not yet stored; written by the thread only
        self._unwritten = 0  # given up by a stopped thread, reported by _give_up
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._drop_lock = threading.Lock()
        #: Records refused because the queue was full, since this writer (or fork) began.
        self.dropped = 0
        self._dropped_reported = 0
        self._dropping = False
        self._down_since: float | None = None

    # The application's side: never blocks, never raises.

    def put(self, item: Any) -> bool:
        """Queue ``item`` for writing; False (and counted) when the queue is full."""
        items = self._items
        if len(items) + self._in_hand >= self.queue_size:
            self._drop()
            return False
        items.append(item)
        if self._thread is None:
            self._start()
        if len(items) >= self.batch_size and not self._wake.is_set():
            self._wake.set()
        return True

    def _drop(self) -> None:
        with self._drop_lock:
            self.dropped += 1
            first, self._dropping = not self._dropping, True
        if first:  # outside the lock: this record may come back here, and is dropped
            LOG.warning(
                "ticket queue full (%d records): dropping new records until it drains",
                self.queue_size,
            )

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            stopping = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(stopping,), name=self.name, daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down: flush() writes inline
                return
            self._thread, self._stopping = thread, stopping

    def pending(self) -> int:
        """Records queued or being written (flush markers not counted)."""
        queued = sum(1 for item in list(self._items) if type(item) is not _Flush)
        return queued + self._in_hand

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until what was queued before the call is written; False on timeout.

        ``timeout`` None waits at most :attr:`flush_timeout`. Records the
        storage refused count as written (they were reported).
        """
        marker = self.request_flush()
        return marker.done.wait(_bounded(self.flush_timeout if timeout is None else timeout))

    def request_flush(self) -> _Flush:
        """Ask the thread to write everything queued now; the marker it sets when done."""
        marker = _Flush()
        if self._thread is None and not self._items:
            marker.done.set()  # nothing was ever queued: no thread to start for it
            return marker
        self._items.append(marker)  # past the bound: a marker is not a record
        if self._thread is None:
            self._start()
        if self._thread is None:  # no thread can start (interpreter exit): write here,
            once = threading.Event()  # one attempt per batch, no back-off
            once.set()
            self._drain(once)
        self._wake.set()
        return marker

    def close(self, timeout: float | None = None) -> bool:
        """Flush (at most ``timeout``, default :attr:`flush_timeout`), then stop the thread.

        The thread makes one last attempt at records queued meanwhile; what
        it cannot write is given up, counted in a warning. A later
        :meth:`put` starts a new thread. True when everything was written.
        """
        timeout = _bounded(self.flush_timeout if timeout is None else timeout)
        deadline = time.monotonic() + timeout
        written = self.flush(timeout)
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join(max(deadline - time.monotonic(), 0.5))  # its last attempt
        return written

    # The thread's side.

    def _run(self, stopping: threading.Event) -> None:
        while True:
            self._wake.wait(self.batch_interval)
            self._wake.clear()
            self._drain(stopping)  # when stopping: one last attempt
            if stopping.is_set():
                break
        self._give_up()

    def _take(self) -> tuple[list[Any], _Flush | None]:
        """Up to ``batch_size`` records from the front, stopping after a flush marker."""
        batch: list[Any] = []
        items = self._items
        while items and len(batch) < self.batch_size:
            item = items.popleft()
            if type(item) is _Flush:
                return batch, item
            batch.append(item)
            self._in_hand += 1
        return batch, None

    def _drain(self, stopping: threading.Event) -> None:
        """Write batches until the queue is empty, or storage is down while stopping."""
        while self._items:
            batch, marker = self._take()
            try:
                if batch and not self._write(batch, stopping):
                    return  # stopped during an outage: _give_up reports the rest
            except Exception:  # the writer outlives any one batch
                LOG.exception("ticket writer: unexpected error; the batch is dropped")
            finally:
                self._in_hand = 0
                # Drops are reported before a flush waiting on this batch returns.
                if not self._items:
                    self._drained()
                if marker is not None:
                    marker.done.set()

    def _write(self, batch: list[Any], stopping: threading.Event) -> bool:
        """Prepare and store ``batch``, retrying while storage is unavailable.

        After a failure one item at a time is tried until one is stored.
        False when the writer is stopped before the batch could be stored.
        """
        pending = self.prepare(batch)
        delay, probing = self.retry_initial, False
        while pending:
            attempt = pending[:1] if probing else pending
            try:
                self.store(attempt)
            except StorageUnavailable as err:
                self._went_down(err)
                if stopping.is_set() or stopping.wait(delay):
                    self._unwritten += len(pending)
                    return False
                delay, probing = min(delay * 2, self.retry_max), True
                continue
            if probing:
                del pending[0]
                probing = False
            self._came_back()
        return True

    def _went_down(self, err: StorageUnavailable) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            LOG.warning(
                "ticket storage unavailable, retrying with back-off; up to %d records "
                "wait in memory: %s",
                self.queue_size,
                err,
            )

    def _came_back(self) -> None:
        if self._down_since is not None:
            LOG.warning(
                "ticket storage available again after %.1f s", time.monotonic() - self._down_since
            )
            self._down_since = None

    def _drained(self) -> None:
        """The queue is empty: report the episode's drops; the next drop warns again."""
        with self._drop_lock:
            dropped = self.dropped - self._dropped_reported
            self._dropped_reported, self._dropping = self.dropped, False
        if dropped:
            LOG.warning("ticket queue drained; %d records were dropped while it was full", dropped)

    def _give_up(self) -> None:
        """At stop: report what was not written, release the flushes waiting for it.

        Records queued for a thread started since (a put after close) are
        left to that thread.
        """
        left, self._unwritten = self._unwritten, 0
        with self._start_lock:
            while self._thread is None and self._items:
                item = self._items.popleft()
                if type(item) is _Flush:
                    item.done.set()
                else:
                    left += 1
        if left:
            LOG.warning(
                "ticket writer stopped with storage unavailable: %d records not stored", left
            )


def _bounded(timeout: float) -> float:
    """``timeout``, cut to what is left of the exit hook's time once it has run."""
    if _exit_deadline is None:
        return max(timeout, 0.0)
    return max(min(timeout, _exit_deadline - time.monotonic()), 0.0)


def flush_all(timeout: float | None = None) -> None:
    """Flush every writer of this process at once, waiting at most ``timeout`` in all.

    ``timeout`` None gives them the longest of their ``flush_timeout``.
    """
    writers = [writer for writer in list(_LIVE) if writer.pending()]
    if not writers:
        return
    if timeout is None:
        timeout = max(writer.flush_timeout for writer in writers)
    deadline = time.monotonic() + _bounded(timeout)
    markers = [(writer, writer.request_flush()) for writer in writers]
    for writer, marker in markers:
        if not marker.done.wait(max(deadline - time.monotonic(), 0.0)):
            LOG.warning("at exit: %d ticket records not yet stored", writer.pending())


def _flush_at_exit() -> None:
    """Flush every writer within the longest ``flush_timeout``; later flushes share that time.

    ``logging.shutdown()`` flushes and closes the handlers after this hook;
    they wait only for what is left of it, so exit takes at most about one
    ``flush_timeout`` however storage fares.
    """
    global _exit_deadline
    if _exit_deadline is None:
        longest = max((writer.flush_timeout for writer in list(_LIVE)), default=0.0)
        _exit_deadline = time.monotonic() + longest
    flush_all()


def _after_fork_in_child() -> None:
    for writer in list(_LIVE):
        writer._reset()


class _Anchor:
    """What multiprocessing's after-fork registry keeps a weak reference to."""


_ANCHOR = _Anchor()


def _finalize_in_multiprocessing_children(_anchor: object = None) -> None:
    # Children started by multiprocessing end with os._exit (no atexit hooks)
    # after running these finalizers; each child's registry starts empty.
    mp_util.Finalize(None, _flush_at_exit, exitpriority=100)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)
_finalize_in_multiprocessing_children()
mp_util.register_after_fork(_ANCHOR, _finalize_in_multiprocessing_children)
