"""Fewer garbage collector passes while an import runs.

An import builds some 50,000 objects per page of 1,000 events (rows,
traits, events, the rows written) that live until the page is stored and
are then freed by reference counting. With CPython's default thresholds
the cyclic collector runs every 700 allocations, promotes the page's live
objects to older generations, and so runs a full pass over every object of
the process about once a page: measured on a Panko SQLite file, that was a
quarter of the CPU of reading and converting (~11 of ~42 µs per event).

:func:`fewer_collections` raises the first threshold for the duration of
the import, so a page's objects are mostly freed before a pass sees them.
Cyclic garbage is still collected, every :data:`FIRST_THRESHOLD`
allocations; memory stays bounded. The previous thresholds come back
afterwards.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: Allocations (net of frees) between two passes over the youngest generation.
FIRST_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with :data:`FIRST_THRESHOLD` as the collector's first threshold."""
    before = gc.get_threshold()
    # 0 means automatic collection is off: leave it off.
    gc.set_threshold(before[0] and max(FIRST_THRESHOLD, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
