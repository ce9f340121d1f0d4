"""Reading the next page while the current one is written.

An import alternates two waits: on the source database (reading a page) and
on storage (writing it). :func:`prefetched` runs the reading in a thread, at
most ``depth`` pages ahead, so the two overlap; memory stays bounded by
``depth + 1`` pages. The reader's exceptions come out of the iteration
where they happened; when the consumer stops early (an error, Ctrl-C) the
thread stops at its next page.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
#: How often a blocked reader checks whether the consumer went away (seconds).
_POLL = 0.2


def prefetched(pages: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of ``pages``, read by a thread up to ``depth`` items ahead."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def read() -> None:
        try:
            for page in pages:
                if not offer(page):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            offer(err)
            return
        offer(_DONE)

    thread = threading.Thread(target=read, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
