"""Seeded generator of realistic oslo.messaging notifications.

The same seed always gives the same corpus, so benchmark runs and tests are
reproducible. Services and payloads follow what nova, glance, cinder,
neutron, keystone (CADF) and heat actually publish (legacy, unversioned
notifications, as Ceilometer's event definitions consume), with the request
context flattened into ``_context_*`` keys as oslo.messaging does.

API (import as ``from benchmarks import corpus`` from the repository root):

- ``EVENT_TYPES``: every event type the generator produces.
- ``notification(event_type, rng_or_seed=0, when=None) -> dict``: one
  notification dict (the v1 form, timestamp as oslo's text).
- ``notifications(count, seed=0) -> list[dict]``: ``count`` notification
  dicts, services weighted as in a busy cloud (nova first).
- ``envelopes(count, seed=0, v2_share=0.5) -> list[dict]``: the same
  notifications as they travel: a share wrapped in the v2 envelope
  ``{"oslo.version": "2.0", "oslo.message": "<json>"}``, the rest v1.
- ``bodies(count, seed=0, v2_share=0.5) -> list[bytes]``: those envelopes as
  JSON wire bodies (UTF-8), what a consumer receives.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks import corpus_payloads as payloads

_BASE_TIME = dt.datetime(2026, 11, 23, 10, 0, 0)
_OSLO_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# service → (publisher prefix, weight, {event_type: payload builder})
_SERVICES: dict[str, tuple[str, int, dict[str, Callable[[random.Random, str], Any]]]] = {
    "nova": ("compute", 35, payloads.NOVA),
    "neutron": ("network", 20, payloads.NEUTRON),
    "cinder": ("volume", 15, payloads.CINDER),
    "keystone": ("identity", 15, payloads.KEYSTONE),
    "glance": ("image", 10, payloads.GLANCE),
    "heat": ("orchestration", 5, payloads.HEAT),
}

#: Every event type the generator produces.
EVENT_TYPES: tuple[str, ...] = tuple(
    event_type for _prefix, _weight, builders in _SERVICES.values() for event_type in builders
)

_SERVICE_OF = {
    event_type: service for service, (_p, _w, builders) in _SERVICES.items()
    for event_type in builders
}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _context(rng: random.Random, project_id: str, user_id: str) -> dict[str, Any]:
    request_id = f"req-{_uuid(rng)}"
    return {
        "_context_request_id": request_id,
        "_context_global_request_id": None,
        "_context_user_id": user_id,
        "_context_project_id": project_id,
        "_context_user": user_id,
        "_context_tenant": project_id,
        "_context_domain": None,
        "_context_user_domain": "default",
        "_context_project_domain": "default",
        "_context_user_name": rng.choice(["admin", "demo", "alice", "bob", "ci-bot"]),
        "_context_project_name": rng.choice(["admin", "demo", "web", "batch", "ci"]),
        "_context_is_admin": rng.random() < 0.2,
        "_context_is_admin_project": True,
        "_context_roles": rng.choice([["member", "reader"], ["admin", "member", "reader"]]),
        "_context_read_only": False,
        "_context_show_deleted": False,
        "_context_read_deleted": "no",
        "_context_auth_token": "***",
        "_context_remote_address": f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "_context_timestamp": _BASE_TIME.isoformat(),
        "_context_service_catalog": [],
        "_context_instance_lock_checked": False,
    }


def notification(
    event_type: str, rng_or_seed: random.Random | int = 0, when: dt.datetime | None = None
) -> dict[str, Any]:
    """One realistic v1 notification dict of ``event_type`` (see EVENT_TYPES)."""
    rng = rng_or_seed if isinstance(rng_or_seed, random.Random) else random.Random(rng_or_seed)
    service = _SERVICE_OF[event_type]
    prefix, _weight, builders = _SERVICES[service]
    payload = builders[event_type](rng, event_type)
    project_id = payloads.project_of(payload) or rng.choice(payloads.PROJECTS)
    user_id = payloads.user_of(payload) or rng.choice(payloads.USERS)
    body: dict[str, Any] = {
        "message_id": _uuid(rng),
        "publisher_id": f"{prefix}.{rng.choice(payloads.HOSTS)}",
        "event_type": event_type,
        "priority": "ERROR" if event_type.endswith(".error") else "INFO",
        "payload": payload,
        "timestamp": (when or _BASE_TIME).strftime(_OSLO_FORMAT),
        "_unique_id": uuid.UUID(int=rng.getrandbits(128)).hex,
    }
    body.update(_context(rng, project_id, user_id))
    return body


def notifications(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` v1 notification dicts, services weighted, times increasing."""
    rng = random.Random(seed)
    services = list(_SERVICES)
    weights = [_SERVICES[s][1] for s in services]
    when = _BASE_TIME
    result = []
    for _ in range(count):
        service = rng.choices(services, weights)[0]
        event_type = rng.choice(list(_SERVICES[service][2]))
        when += dt.timedelta(microseconds=rng.randrange(1, 5000))
        result.append(notification(event_type, rng, when))
    return result


def envelopes(count: int, seed: int = 0, v2_share: float = 0.5) -> list[dict[str, Any]]:
    """The notifications as sent: ``v2_share`` of them in the v2 envelope."""
    rng = random.Random(seed ^ 0x5EED)
    return [
        {"oslo.version": "2.0", "oslo.message": json.dumps(body)}
        if rng.random() < v2_share else body
        for body in notifications(count, seed)
    ]


def bodies(count: int, seed: int = 0, v2_share: float = 0.5) -> list[bytes]:
    """JSON wire bodies (UTF-8 bytes) of :func:`envelopes`."""
    return [json.dumps(envelope).encode() for envelope in envelopes(count, seed, v2_share)]
