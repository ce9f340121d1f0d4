"""``pipeline import logbook``: logbook's tickets and occurrences into pipeline's storage.

Every stored logbook occurrence becomes an occurrence of the ticket with the
same ``(app_id, record_hash)`` — logbook's hash as hex text, exactly what
``grouping = logbook`` computes for the same log call, so records logged
through pipeline afterwards (same ``app_id``, same salt) join the imported
tickets. Its data (the record's JSON) and time are kept as they are; the
ticket's level, channel, location and module come from logbook's ticket.
Each page of occurrences is one ``record_tickets`` call.

**Idempotent.** Every occurrence is stored under an occurrence key derived
from its content (app, hash, logbook occurrence id, time and data), so
importing again — after an interruption, or twice — skips what is stored and
changes no count: run the same command again to finish an interrupted
import. The storage cannot tell those skipped records from new ones, so the
summary counts them together.

**Counts, times, solved flags.** A ticket's count grows by one per occurrence
stored; where logbook counted more occurrences than it still holds (some
were deleted), the difference rides on the ticket's last occurrence
(:attr:`~pipeline.models.TicketRecord.count`), so it too is added exactly
once. First and last times are those of the earliest and latest stored
occurrence (logbook kept no first time, and its last time is the latest
occurrence's). A ticket logbook marks solved is solved here once its
occurrences are in, unless pipeline already holds a later occurrence of it
(then it fired again after logbook's history ended). A logbook ticket
without any stored occurrence is refused: there is nothing to store it with.
"""

from __future__ import annotations

import hashlib
import json
import logging

from pipeline.importers.logbook import LogbookOccurrence, LogbookReader, LogbookTicket
from pipeline.importers.prefetch import prefetched
from pipeline.importers.progress import Progress
from pipeline.importers.summary import ImportSummary
from pipeline.models import TicketRecord, TicketStatus, to_utc
from pipeline.storage.base import Connection

LOG = logging.getLogger(__name__)

NOTE_TICKETS = "tickets imported"
NOTE_SOLVED = "tickets solved (as in logbook)"
NOTE_REOPENED = "tickets solved in logbook that pipeline has seen fire since, left open"
NOTE_FOLDED = "occurrences logbook counted but no longer held, added to their tickets' counts"
NOTE_OVER = "tickets holding more occurrences than logbook's count (each occurrence counts)"
EMPTY_TICKET = "logbook ticket without any stored occurrence (nothing to store it with)"


def ticket_key(ticket: LogbookTicket) -> tuple[str, str]:
    """``(app_id, record_hash)`` of a logbook ticket as pipeline keys it."""
    record_hash = ticket.record_hash
    if isinstance(record_hash, bytes):  # what logbook's handler wrote
        try:
            record_hash = record_hash.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"record_hash {record_hash!r} is not hex text") from None
    if not record_hash:
        raise ValueError("ticket without a record_hash")
    return ticket.app_id or "generic", record_hash


def occurrence_key(app_id: str, record_hash: str, occurrence: LogbookOccurrence) -> str:
    """The identity of an imported occurrence: a digest of what logbook stored.

    The same database imported again, under any URL, gives the same keys;
    two databases (one per host, say) give different ones, though their
    occurrence ids overlap.
    """
    time = "" if occurrence.time is None else occurrence.time.isoformat()
    parts = (app_id, record_hash, str(occurrence.occurrence_id), time, occurrence.data or "")
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass"))
    return "logbook:" + digest.hexdigest()


def to_record(ticket: LogbookTicket, occurrence: LogbookOccurrence) -> TicketRecord:
    """The ticket record of one logbook occurrence; ValueError says why there is none."""
    app_id, record_hash = ticket_key(ticket)
    if occurrence.time is None:
        raise ValueError("occurrence without a time")
    try:
        data = json.loads(occurrence.data or "")
    except ValueError as err:
        raise ValueError(f"occurrence data is not JSON: {err}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__  # ValueError: every reason to refuse is one
        raise ValueError(f"occurrence data is not a JSON object but {kind}")  # noqa: TRY004
    count = 1
    if occurrence.occurrence_id == ticket.last_occurrence_id:
        count += max(0, (ticket.occurrence_count or 0) - ticket.stored)
    return TicketRecord(
        record_hash=record_hash,
        app_id=app_id,
        time=to_utc(occurrence.time),
        level=ticket.level if ticket.level is not None else 0,
        channel=ticket.channel or "",
        location=ticket.location or "",
        module=ticket.module,
        data=data,
        occurrence_key=occurrence_key(app_id, record_hash, occurrence),
        count=count,
    )


def refuse_empty(tickets: dict[int, LogbookTicket], summary: ImportSummary) -> list[int]:
    """Ids of the tickets with stored occurrences; the others are refused in ``summary``."""
    for ticket in tickets.values():
        if not ticket.stored:
            LOG.warning("logbook ticket %d refused: %s", ticket.ticket_id, EMPTY_TICKET)
            summary.refuse(EMPTY_TICKET)
        elif (ticket.occurrence_count or 0) < ticket.stored:
            summary.note(NOTE_OVER)
    return [ticket.ticket_id for ticket in tickets.values() if ticket.stored]


def _solve(conn: Connection, ticket: LogbookTicket, ticket_id: int, summary: ImportSummary) -> None:
    """Solve the imported ticket unless pipeline has seen it fire after logbook's history."""
    stored = conn.get_ticket(ticket_id)
    if stored.status is TicketStatus.SOLVED:
        summary.note(NOTE_SOLVED)
    elif ticket.latest_time is not None and stored.last_occurrence_time <= ticket.latest_time:
        conn.solve_ticket(ticket_id)
        summary.note(NOTE_SOLVED)
    else:
        summary.note(NOTE_REOPENED)


def _write(
    conn: Connection,
    tickets: dict[int, LogbookTicket],
    page: list[LogbookOccurrence],
    summary: ImportSummary,
) -> None:
    records: list[TicketRecord] = []
    last_of: dict[int, LogbookTicket] = {}  # position in records -> ticket it completes
    for occurrence in page:
        ticket = tickets[occurrence.ticket_id]
        try:
            record = to_record(ticket, occurrence)
        except ValueError as err:
            LOG.warning("logbook occurrence %d refused: %s", occurrence.occurrence_id, err)
            summary.refuse(str(err))
            continue
        if occurrence.occurrence_id == ticket.last_occurrence_id:
            last_of[len(records)] = ticket
        records.append(record)
    result = conn.record_tickets(records)
    summary.read += len(page)
    summary.stored += result.stored
    for reason in result.failed.values():
        LOG.warning("logbook occurrence refused by storage: %s", reason)
        summary.refuse(reason)
    for position, ticket in last_of.items():
        if position in result.failed:
            continue
        summary.note(NOTE_TICKETS)
        if records[position].count > 1:
            summary.note(NOTE_FOLDED, records[position].count - 1)
        if ticket.solved:
            key = (records[position].app_id, records[position].record_hash)
            _solve(conn, ticket, result.ticket_ids[key], summary)


def import_tickets(
    reader: LogbookReader,
    conn: Connection,
    tickets: dict[int, LogbookTicket],
    summary: ImportSummary,
    *,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> None:
    """Store the occurrences of ``tickets`` (from ``reader.tickets()``) in ``conn``.

    Counts in ``summary``; on an interruption or an error,
    ``summary.interrupted`` says how to go on, and the exception propagates.
    """
    wanted = refuse_empty(tickets, summary)
    try:
        for page in prefetched(reader.pages(wanted, batch_size)):
            _write(conn, tickets, page, summary)
            if progress is not None:
                progress.advance(len(page))
    except BaseException as err:
        summary.interrupted = (
            f"{type(err).__name__}: run the same command again to finish "
            "(what is stored is skipped and counted once)"
        )
        raise
