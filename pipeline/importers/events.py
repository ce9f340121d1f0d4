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
skip the reading too (the interrupted run prints it).

Conversion keeps every value as Panko stored it, typed (Panko's API turned
every trait into text; its tables kept the types). Text traits that Panko
cut at 255 characters stay cut — the summary counts the values of exactly
that length; a trait without a value (NULL) is left out and counted; an
empty ``raw`` (``{}``, what Panko stored when raw notifications were not
kept) becomes None.
"""

from __future__ import annotations

import logging
import operator

from pipeline.importers.panko import PankoEvent, PankoReader, raw_of
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
_TEXT = Trait.TEXT_TYPE
_BY_NAME = operator.attrgetter("name")


def to_event(item: PankoEvent, summary: ImportSummary) -> Event:
    """The pipeline event of one Panko event; ValueError says why there is none.

    Counts the notes (:data:`NOTE_AT_LIMIT`, :data:`NOTE_NULL`) in ``summary``.
    """
    if not item.message_id:
        raise ValueError("Panko event without a message_id")
    if not item.event_type:
        raise ValueError("Panko event without an event type")
    if item.generated is None:
        raise ValueError("Panko event without a generated time")
    # Built sorted by name, the order record_events keeps: it then takes the
    # event as it is instead of rebuilding it.
    traits = sorted(
        (Trait(name, dtype, value) for name, dtype, value in item.traits if value is not None),
        key=_BY_NAME,
    )
    if len(traits) < len(item.traits):
        summary.note(NOTE_NULL, len(item.traits) - len(traits))
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
            LOG.warning("Panko event %d (%s) refused: %s", item.panko_id, item.message_id, err)
            summary.refuse(str(err))
    result = conn.record_events(events)
    summary.read += len(page)
    summary.stored += len(result.stored)
    summary.already_there = (summary.already_there or 0) + len(result.duplicates)
    for message_id, reason in result.failed.items():
        LOG.warning("event %s refused by storage: %s", message_id, reason)
        summary.refuse(reason)


def import_events(
    reader: PankoReader,
    conn: Connection,
    summary: ImportSummary,
    *,
    batch_size: int = 1000,
    after_id: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Read the reader's events and store them in ``conn``, counting in ``summary``.

    On an interruption or an error, ``summary.interrupted`` says what is
    stored and how to go on, and the exception propagates.
    """
    last_id = after_id
    try:
        for page in prefetched(reader.pages(batch_size, after_id)):
            _write(conn, page, summary)
            last_id = page[-1].panko_id
            if progress is not None:
                progress.advance(len(page))
    except BaseException as err:
        done = "nothing stored yet" if last_id is None else f"events up to Panko id {last_id} done"
        summary.interrupted = f"{type(err).__name__}: {done}. Run the same command again to finish"
        if last_id is not None:
            summary.interrupted += f" (--after-id {last_id} skips reading them again)"
        raise
