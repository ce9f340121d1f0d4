"""Panko v2 event endpoints: ``/v2/events``, ``/v2/event_types``, ``/v2/capabilities``.

Endpoints are plain ``def`` functions: FastAPI runs them in its thread pool,
so the synchronous storage calls never block the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from pipeline.api import policy
from pipeline.api import query as q
from pipeline.api.auth import CallerDep
from pipeline.api.schemas import (
    Capabilities,
    EventOut,
    TraitDescription,
    TraitOut,
    event_dict,
)
from pipeline.models import Trait
from pipeline.storage import Capability, Connection, EventFilter

router = APIRouter(prefix="/v2", tags=["events (Panko v2)"])

RBAC_FAILED = "RBAC Authorization Failed"
Strings = list[str]


def connection(request: Request) -> Connection:
    """FastAPI dependency: the storage connection opened at start-up."""
    conn: Connection = request.app.state.conn
    return conn


Conn = Annotated[Connection, Depends(connection)]


@router.get("/events", response_model=list[EventOut])
def list_events(
    request: Request,
    caller: CallerDep,
    conn: Conn,
    q_field: Annotated[Strings, Query(alias="q.field")] = [],  # noqa: B006 - FastAPI idiom
    q_op: Annotated[Strings, Query(alias="q.op")] = [],  # noqa: B006
    q_type: Annotated[Strings, Query(alias="q.type")] = [],  # noqa: B006
    q_value: Annotated[Strings, Query(alias="q.value")] = [],  # noqa: B006
    limit: int | None = None,
    sort: Annotated[Strings, Query()] = [],  # noqa: B006
    marker: str | None = None,
) -> JSONResponse:
    """Events matching every ``q`` condition, sorted and paginated.

    ``q.field`` is ``event_type``, ``message_id``, ``start_timestamp``,
    ``end_timestamp``, ``all_tenants`` or a trait name; ``q.op`` one of
    lt/le/eq/ne/ge/gt; ``q.type`` one of string/integer/float/datetime.
    ``sort`` items are ``key:dir`` with keys generated/message_id;
    ``marker`` is the message id of the last event of the previous page.
    """
    caller.require(policy.EVENTS_INDEX, RBAC_FAILED)
    conf = request.app.state.conf
    event_filter = q.build_filter(q_field, q_op, q_type, q_value, caller.scope())
    pages = q.pagination(
        sort, limit, marker, conf.api.default_api_return_limit, conf.api.max_api_return_limit
    )
    # Serialised here rather than validated again through response_model:
    # a page of events is the API's hottest path.
    found = conn.get_events(event_filter, pages)
    return JSONResponse([event_dict(event) for event in found])


@router.get("/events/{message_id}", response_model=EventOut)
def get_event(message_id: str, caller: CallerDep, conn: Conn) -> EventOut:
    """The event ``message_id``, if the caller may see it (404 otherwise)."""
    caller.require(policy.EVENTS_SHOW, RBAC_FAILED)
    scoped = q.build_filter([], [], [], [], caller.scope())
    event_filter = EventFilter(
        message_id=q.check_text(message_id, "message_id"),
        traits_filter=scoped.traits_filter,
        admin_proj=scoped.admin_proj,
    )
    events = conn.get_events(event_filter, {"limit": 1})
    if not events:
        raise HTTPException(404, f"Event {message_id} Not Found")
    return EventOut.of(events[0])


@router.get("/event_types", response_model=list[str])
def list_event_types(caller: CallerDep, conn: Conn) -> list[str]:
    """Every event type that has stored events (``telemetry:event_types:index``)."""
    caller.require(policy.EVENT_TYPES_INDEX)
    return conn.get_event_types()


@router.get("/event_types/{event_type}", response_model=None, responses={404: {}})
def get_event_type(event_type: str, caller: CallerDep) -> None:
    """Not an API: always 404, as in Panko."""
    caller.require(policy.EVENT_TYPES_INDEX)
    raise HTTPException(404, f"Event type {event_type} Not Found")


@router.get("/event_types/{event_type}/traits", response_model=list[TraitDescription])
def list_trait_types(event_type: str, caller: CallerDep, conn: Conn) -> list[TraitDescription]:
    """Name and type of every trait stored for ``event_type`` (``...:traits`` rule)."""
    caller.require(policy.EVENT_TYPES_TRAITS)
    return [
        TraitDescription(name=item["name"], type=Trait.get_name_by_type(item["data_type"]))
        for item in conn.get_trait_types(q.check_text(event_type, "event_type"))
    ]


@router.get("/event_types/{event_type}/traits/{trait_name}", response_model=list[TraitOut])
def list_traits(event_type: str, trait_name: str, caller: CallerDep, conn: Conn) -> list[TraitOut]:
    """Every stored value of trait ``trait_name`` in events of ``event_type``."""
    caller.require(policy.EVENT_TYPES_TRAITS)
    traits = conn.get_traits(
        q.check_text(event_type, "event_type"), q.check_text(trait_name, "trait name")
    )
    return [TraitOut.of(trait) for trait in traits]


@router.get("/capabilities", response_model=Capabilities)
def capabilities(caller: CallerDep, conn: Conn) -> Capabilities:
    """What this API and its storage driver support (any authenticated caller)."""
    events = Capability.EVENTS in conn.capabilities
    return Capabilities(
        api={"events:query:simple": events},
        event_storage={
            "storage:production_ready": not conn.url.startswith("memory:"),
            "storage:expiry": Capability.EVENT_EXPIRY in conn.capabilities,
            "tickets": Capability.TICKETS in conn.capabilities,
        },
    )
