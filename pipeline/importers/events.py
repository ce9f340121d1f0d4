"""``pipeline import panko``: Panko's events into pipeline's storage, batch by batch.

Each page read from Panko (:mod:`.panko`) becomes one ``record_events`` call,
so storage sees batches of ``batch_size`` events and memory holds one page.
Writing is idempotent by message id: an event stored before (by an earlier
run, or by ``pipeline consume`` reading the same notification) is counted
as *already there* and left as it is. That is what makes an import
resumable: an interrupted run (Ctrl-C, a crash, ``kill -9``) leaves whole
batches stored, and running the same command again reads everything again,
skips what is stored and stores the rest; the result is the same as one
uninterrupted run. ``after_id`` starts after a Panko event id instead, to
skip the reading too (the interrupted run prints it): ``event.id`` of the
SQLAlchemy layout (:mod:`.panko`), the ``_id`` (message id) of the MongoDB
one (:mod:`.panko_mongo`).

Conversion keeps every value as Panko stored it, typed (Panko's API turned
every trait into text; its tables kept the types). Text traits that Panko
cut at 255 characters stay cut — the summary counts the values of exactly
that length; a trait without a value (NULL) is left out and counted; an
empty ``raw`` (``{}``, what Panko stored when raw notifications were not
kept) becomes None.
"""

from __future__ import annotations

import itertools
import logging
import operator
import shlex
from collections.abc import Iterator
from typing import Protocol

from pipeline.importers.collection import fewer_collections
from pipeline.importers.panko import PankoEvent, PankoId, raw_of
from pipeline.importers.prefetch import prefetched
from pipeline.importers.progress import Progress
from pipeline.importers.summary import ImportSummary
from pipeline.models import Event, Trait
from pipeline.storage.base import Connection

LOG = logging.getLogger(__name__)

#: Panko's text trait column: longer values were cut to this length.
TEXT_LIMIT = 255
NOTE_AT_LIMIT = f"text traits of exactly {TEXT_LIMIT} characters (Panko cut longer ones there)"
NOTE_NULL = "traits without a value (NULL in Panko), left out"
#: Events per page and per ``record_events`` call. Into PostgreSQL, 2,000 took
#: ~8% less of the database's CPU per event than 1,000 (fixed costs per batch)
#: and ~7% less time; a page of 2,000 Panko events holds a few MB.
BATCH_SIZE = 2000
_TEXT = Trait.TEXT_TYPE
_BY_NAME = operator.attrgetter("name")
_VALUE = operator.itemgetter(2)


class PankoSource(Protocol):
    """What reads a Panko database, whatever its layout (:mod:`.panko`, :mod:`.panko_mongo`)."""

    def count(self) -> int:
        """How many events :meth:`pages` yields from the start."""

    def unpaged(self) -> dict[str, int]:
        """Selected events that :meth:`pages` cannot reach, counted by refusal reason."""

    def id_of(self, text: str) -> PankoId:
        """The Panko id written as ``text``; ValueError if it cannot be one."""

    def pages(self, size: int, after: PankoId | None = None) -> Iterator[list[PankoEvent]]:
        """Events in pages of ``size`` in a stable order, starting after id ``after``."""


def to_event(item: PankoEvent, summary: ImportSummary) -> Event:
    """The pipeline event of one Panko event; ValueError says why there is none.

    Counts the notes (:data:`NOTE_AT_LIMIT`, :data:`NOTE_NULL`) in ``summary``.
    """
    if item.problem:
        raise ValueError(item.problem)
    if not item.message_id:
        raise ValueError("Panko event without a message_id")
    if not item.event_type:
        raise ValueError("Panko event without an event type")
    if item.generated is None:
        raise ValueError("Panko event without a generated time")
    rows = item.traits
    if None in map(_VALUE, rows):  # NULL values are rare: look for them in C first
        rows = [row for row in rows if row[2] is not None]
        summary.note(NOTE_NULL, len(item.traits) - len(rows))
    # Built sorted by name, the order record_events keeps: it then takes the
    # event as it is instead of rebuilding it. starmap builds them from C.
    traits = sorted(itertools.starmap(Trait, rows), key=_BY_NAME)
    at_limit = sum(1 for t in traits if t.dtype == _TEXT and len(t.value) == TEXT_LIMIT)
    if at_limit:
        summary.note(NOTE_AT_LIMIT, at_limit)
    return Event(item.message_id, item.event_type, item.generated, tuple(traits), raw_of(item.raw))


def _write(conn: Connection, page: list[PankoEvent], summary: ImportSummary) -> None:
    events = []
    for item in page:
        try:
            events.append(to_event(item, summary))
        except ValueError as err:
            # MongoDB's ids are the message ids: name them once.
            same = item.panko_id == item.message_id
            named = item.panko_id if same else f"{item.panko_id} ({item.message_id})"
            LOG.warning("Panko event %s refused: %s", named, err)
            summary.refuse(str(err))
    result = conn.record_events(events)
    summary.read += len(page)
    summary.stored += len(result.stored)
    summary.already_there = (summary.already_there or 0) + len(result.duplicates)
    for message_id, reason in result.failed.items():
        LOG.warning("event %s refused by storage: %s", message_id, reason)
        summary.refuse(reason)


def import_events(
    reader: PankoSource,
    conn: Connection,
    summary: ImportSummary,
    *,
    batch_size: int = BATCH_SIZE,
    after_id: PankoId | None = None,
    progress: Progress | None = None,
    read_ahead: bool | None = None,
) -> None:
    """Read the reader's events and store them in ``conn``, counting in ``summary``.

    Events the reader cannot reach are read and refused at the start (not
    again when resuming after ``after_id``). ``read_ahead`` reads the next
    page in a thread while one is written; None decides by the source (see
    :func:`reads_ahead`). On an interruption or an error,
    ``summary.interrupted`` says what is stored and how to go on, and the
    exception propagates.
    """
    if after_id is None:
        for reason, count in reader.unpaged().items():
            summary.read += count
            summary.refuse(reason, count)
    last_id = after_id
    pages = reader.pages(batch_size, after_id)
    if reads_ahead(reader) if read_ahead is None else read_ahead:
        pages = prefetched(pages)
    try:
        with fewer_collections():
            for page in pages:
                _write(conn, page, summary)
                last_id = page[-1].panko_id
                if progress is not None:
                    progress.advance(len(page))
    except BaseException as err:
        summary.interrupted = f"{type(err).__name__}: {resume_hint(last_id)}"
        raise


def resume_hint(last_id: PankoId | None) -> str:
    """What an interrupted run did and how to go on (the id quoted for a shell)."""
    if last_id is None:
        return "nothing stored yet. Run the same command again to finish"
    shown = shlex.quote(str(last_id))
    return (
        f"events up to Panko id {shown} done. Run the same command again to finish"
        f" (--after-id {shown} skips reading them again)"
    )


def reads_ahead(reader: PankoSource) -> bool:
    """Whether reading the next page in a thread pays for ``reader``'s source.

    A database server is read mostly waiting for it, which a thread
    overlaps with writing. A local SQLite file is read with this process's
    CPU, under the interpreter lock the writing needs too: there a reading
    thread only competes with the writer (measured with a 100,000-event
    Panko file into PostgreSQL: 50 µs more CPU per event and a quarter
    fewer events per second than reading in turn).
    """
    engine = getattr(reader, "engine", None)  # the SQL reader's; MongoDB's has none
    return engine is None or engine.dialect.name != "sqlite"
