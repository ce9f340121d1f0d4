"""The tickets page: ``GET /`` (and ``/tickets``), ``/tickets/{id}``, Solve.

Server-rendered HTML (Jinja2, autoescaped: a log message with markup shows
as text) with plain links and forms: no JavaScript. Filters, order and page
live in the query string, so every view can be bookmarked; Solve is a form
POST carrying a CSRF token (:mod:`pipeline.api.csrf`), answered with a
redirect (303) back to the page it came from. Reading needs
``pipeline:tickets:read``, solving ``pipeline:tickets:solve``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from pipeline.api import csrf, policy, presentation
from pipeline.api.auth import CallerDep, Forbidden
from pipeline.api.gate import SESSION_KEY
from pipeline.api.levels import level_name
from pipeline.api.query import BadRequest
from pipeline.api.tickets import (
    ORDER_KEYS,
    STATUSES,
    TicketId,
    Tickets,
    check_order,
    ticket_filters,
)
from pipeline.convert.tickets import LEVELS
from pipeline.exceptions import InvalidQuery, NotFound
from pipeline.models import UTC, Occurrence, Ticket

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.filters["level_name"] = level_name
templates.env.globals["csrf_token"] = csrf.token

PER_PAGE = 25
#: Occurrences read per ticket for its sparkline; busier tickets saturate.
SPARK_SAMPLE = 500
DETAIL_OCCURRENCES = 20


def signed_in(request: Request) -> str | None:
    """The user name of the page's session, if it has one (for the sign-out form)."""
    session = request.scope.get(SESSION_KEY)
    return session.user if session is not None else None


templates.env.globals["signed_in"] = signed_in


def _error(request: Request, status: int, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _row(conn: Any, ticket: Ticket, now: dt.datetime) -> dict[str, Any]:
    recent: list[Occurrence] = conn.get_occurrences(ticket.ticket_id, "-time", SPARK_SAMPLE, 0)
    counts = presentation.hourly_counts((o.time for o in recent), now)
    return {
        "ticket": ticket,
        "message": presentation.message_of(recent[0].data) if recent else "(no occurrence kept)",
        "first_seen": presentation.ago(ticket.first_occurrence_time, now),
        "last_seen": presentation.ago(ticket.last_occurrence_time, now),
        "spark": presentation.sparkline(counts),
        "day_count": sum(counts),
    }


@router.get("/", response_class=HTMLResponse)
@router.get("/tickets", response_class=HTMLResponse)
def tickets_page(
    request: Request,
    caller: CallerDep,
    conn: Tickets,
    app: str = "",
    status: str = "all",
    level: str = "",
    order_by: str = "-last_occurrence_time",
    page: int = 1,
) -> Response:
    """The list of tickets with filters, order and paging."""
    try:
        caller.require(policy.TICKETS_READ)
        filters = ticket_filters(app or None, status or None, level or None, None)
        if not 1 <= page <= 1_000_000:
            raise BadRequest(f"page must be between 1 and 1000000, got {page}")
        found = conn.get_tickets(check_order(order_by), PER_PAGE, (page - 1) * PER_PAGE, **filters)
        total = conn.count_tickets(**filters)
    except Forbidden as err:
        return _error(request, 403, str(err))
    except (BadRequest, InvalidQuery) as err:
        return _error(request, 400, str(err))
    now = dt.datetime.now(UTC)
    params = {"app": app, "status": status, "level": level, "order_by": order_by}
    return templates.TemplateResponse(
        request,
        "tickets.html",
        {
            "rows": [_row(conn, ticket, now) for ticket in found],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "params": params,
            "statuses": STATUSES,
            "order_keys": ORDER_KEYS,
            "levels": sorted(LEVELS, key=LEVELS.__getitem__, reverse=True),
            "query": lambda **changes: urlencode({**params, "page": page, **changes}),
            "here": str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        },
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(
    request: Request, ticket_id: TicketId, caller: CallerDep, conn: Tickets
) -> Response:
    """One ticket with its latest occurrences and their exceptions."""
    try:
        caller.require(policy.TICKETS_READ)
        ticket = conn.get_ticket(ticket_id)
        recent = conn.get_occurrences(ticket_id, "-time", DETAIL_OCCURRENCES, 0)
    except Forbidden as err:
        return _error(request, 403, str(err))
    except NotFound as err:
        return _error(request, 404, str(err))
    now = dt.datetime.now(UTC)
    return templates.TemplateResponse(
        request,
        "ticket.html",
        {
            "ticket": ticket,
            "row": _row(conn, ticket, now),
            "occurrences": [
                {
                    "occurrence": o,
                    "ago": presentation.ago(o.time, now),
                    "message": presentation.message_of(o.data),
                    "exception": presentation.exception_of(o.data),
                }
                for o in recent
            ],
            "here": str(request.url.path),
        },
    )


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path of this site, else ``default`` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@router.post("/tickets/{ticket_id}/solve")
async def solve_from_page(
    request: Request,
    ticket_id: TicketId,
    caller: CallerDep,
    conn: Tickets,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    """Solve a ticket (form with a valid CSRF token), then go back to the page it was on."""
    try:
        await csrf.checked_form(request)
        caller.require(policy.TICKETS_SOLVE)
        await run_in_threadpool(conn.solve_ticket, ticket_id)
    except Forbidden as err:
        return _error(request, 403, str(err))
    except NotFound as err:
        return _error(request, 404, str(err))
    return RedirectResponse(safe_next(next_url, f"/tickets/{ticket_id}"), status_code=303)
