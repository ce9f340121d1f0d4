"""Ticket endpoints, ``/v1/tickets``: list, show, occurrences, solve, delete.

Reading needs ``pipeline:tickets:read``, solving ``pipeline:tickets:solve``
and deleting ``pipeline:tickets:delete``; by default all three are for
admins (or anyone under ``auth_strategy = noauth``): tickets hold application
log records, which belong to no single project.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from pipeline.api import policy
from pipeline.api.auth import Caller, CallerDep
from pipeline.api.events import Conn
from pipeline.api.levels import level_name, parse_level
from pipeline.api.query import BadRequest, check_text
from pipeline.api.schemas import OccurrenceList, OccurrenceOut, TicketList, TicketOut
from pipeline.exceptions import MissingCapability
from pipeline.models import INT64_MAX, TicketStatus
from pipeline.storage import Capability, Connection

router = APIRouter(prefix="/v1", tags=["tickets"])

#: Keys tickets can be ordered by; a leading ``-`` means descending.
ORDER_KEYS = (
    "last_occurrence_time",
    "first_occurrence_time",
    "occurrence_count",
    "level",
    "ticket_id",
)
STATUSES = ("open", "solved", "regressed", "all")


def reader(caller: CallerDep) -> Caller:
    """FastAPI dependency: the caller, who must pass ``pipeline:tickets:read``."""
    return caller.require(policy.TICKETS_READ)


def solver(caller: CallerDep) -> Caller:
    """FastAPI dependency: the caller, who must pass ``pipeline:tickets:solve``."""
    return caller.require(policy.TICKETS_SOLVE)


def deleter(caller: CallerDep) -> Caller:
    """FastAPI dependency: the caller, who must pass ``pipeline:tickets:delete``."""
    return caller.require(policy.TICKETS_DELETE)


Reader = Annotated[Caller, Depends(reader)]
Solver = Annotated[Caller, Depends(solver)]
Deleter = Annotated[Caller, Depends(deleter)]


def ticket_store(conn: Conn) -> Connection:
    """The connection, refused (501) when its driver stores no tickets."""
    if Capability.TICKETS not in conn.capabilities:
        raise MissingCapability(f"storage driver of {conn.dress_url(conn.url)} stores no tickets")
    return conn


Tickets = Annotated[Connection, Depends(ticket_store)]
TicketId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the ticket's id")]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]


def ticket_filters(
    app: str | None, status: str | None, level: str | None, channel: str | None
) -> dict[str, Any]:
    """Storage keyword filters from request values (BadRequest when malformed)."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    try:
        level_number = None if level is None else parse_level(level)
    except ValueError as err:
        raise BadRequest(str(err)) from None
    return {
        "app_id": None if app is None else check_text(app, "app"),
        "status": None if status in (None, "all") else TicketStatus(status),
        "level": level_number,
        "channel": None if channel is None else check_text(channel, "channel"),
    }


def check_order(order_by: str) -> str:
    """``order_by`` if it names an orderable key (BadRequest otherwise)."""
    if order_by.lstrip("-") not in ORDER_KEYS:
        raise BadRequest(
            f"cannot order tickets by {order_by!r}; use one of {', '.join(ORDER_KEYS)}, "
            "with a leading '-' for descending"
        )
    return order_by


def check_page(limit: int, offset: int, maximum: int) -> None:
    """Refuse a limit outside 1..maximum or a negative offset."""
    if not 1 <= limit <= maximum:
        raise BadRequest(f"limit must be between 1 and {maximum}, got {limit}")
    if offset < 0:
        raise BadRequest(f"offset must not be negative, got {offset}")


@router.get("/tickets", response_model=TicketList)
def list_tickets(
    _: Reader,
    conn: Tickets,
    app: str | None = None,
    status: Annotated[str | None, Query(description="open, solved, regressed or all")] = None,
    level: Annotated[str | None, Query(description="a level name or number")] = None,
    channel: str | None = None,
    order_by: str = "-last_occurrence_time",
    limit: int = 50,
    offset: Offset = 0,
) -> TicketList:
    """Tickets matching the filters, ordered, one page at a time."""
    check_page(limit, offset, 10_000)
    filters = ticket_filters(app, status, level, channel)
    found = conn.get_tickets(check_order(order_by), limit, offset, **filters)
    total = conn.count_tickets(**filters)
    return TicketList(
        tickets=[TicketOut.of(t, level_name(t.level)) for t in found],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: TicketId, _: Reader, conn: Tickets) -> TicketOut:
    """One ticket (404 when unknown)."""
    ticket = conn.get_ticket(ticket_id)
    return TicketOut.of(ticket, level_name(ticket.level))


@router.get("/tickets/{ticket_id}/occurrences", response_model=OccurrenceList)
def list_occurrences(
    ticket_id: TicketId,
    _: Reader,
    conn: Tickets,
    order_by: Annotated[str, Query(description="time or -time")] = "-time",
    limit: int = 50,
    offset: Offset = 0,
) -> OccurrenceList:
    """The stored occurrences of a ticket, newest first by default."""
    check_page(limit, offset, 10_000)
    if order_by not in ("time", "-time"):
        raise BadRequest(f"occurrences are ordered by time or -time, got {order_by!r}")
    conn.get_ticket(ticket_id)  # 404 before an empty page
    found = conn.get_occurrences(ticket_id, order_by, limit, offset)
    return OccurrenceList(
        occurrences=[OccurrenceOut.of(o) for o in found], limit=limit, offset=offset
    )


@router.post("/tickets/{ticket_id}/solve", response_model=TicketOut)
def solve_ticket(ticket_id: TicketId, _: Solver, conn: Tickets) -> TicketOut:
    """Mark a ticket solved; it reopens (regressed) when it fires again."""
    conn.solve_ticket(ticket_id)
    ticket = conn.get_ticket(ticket_id)
    return TicketOut.of(ticket, level_name(ticket.level))


@router.delete("/tickets/{ticket_id}", status_code=204, response_class=Response)
def delete_ticket(ticket_id: TicketId, _: Deleter, conn: Tickets) -> Response:
    """Delete a ticket and its occurrences."""
    conn.delete_ticket(ticket_id)
    return Response(status_code=204)
