"""Realistic notifications of every event type the convert tests use, as wire bodies.

Payloads come from benchmarks/corpus_payloads.py (nova, glance, cinder,
neutron, keystone, heat) plus keystone's role assignments; the request
context is the publishing service's own (:mod:`tests.unit.convert.oslo_wire`),
usually the resource owner's, sometimes another project's user acting on it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from benchmarks import corpus_payloads as payloads
from tests.unit.convert import oslo_wire


def _role_assignment(rng: random.Random, event_type: str) -> dict[str, Any]:
    """keystone's role assignment notification: CADF plus the assignment."""
    payload = payloads.KEYSTONE["identity.project.created"](rng, "identity.project.created")
    action = event_type.rsplit(".", 1)[1]
    payload.update(action=f"{action}.role_assignment", role=rng.choice(payloads.USERS),
                   user=rng.choice(payloads.USERS), project=rng.choice(payloads.PROJECTS),
                   inherited_to_projects=False)
    return payload


#: Payload builders by event type: ``builder(rng, event_type) -> payload``.
BUILDERS: dict[str, Callable[[random.Random, str], Any]] = {
    **payloads.NOVA, **payloads.GLANCE, **payloads.CINDER, **payloads.NEUTRON,
    **payloads.KEYSTONE, **payloads.HEAT,
    "identity.role_assignment.created": _role_assignment,
    "identity.role_assignment.deleted": _role_assignment,
}
EVENT_TYPES = tuple(sorted(BUILDERS))


def notification_body(event_type: str, seed: int, version: float = 2.0) -> bytes:
    """A wire body of ``event_type`` as the service's oslo.messaging Notifier sends it."""
    rng = random.Random(f"{event_type}/{seed}")
    payload = BUILDERS[event_type](rng, event_type)
    service = oslo_wire.PUBLISHERS[event_type.split(".")[0]]
    project = payloads.project_of(payload) or rng.choice(payloads.PROJECTS)
    user = payloads.user_of(payload) or rng.choice(payloads.USERS)
    if rng.random() < 0.3:  # another project's user (an admin, a service) acting
        project, user = rng.choice(payloads.PROJECTS), rng.choice(payloads.USERS)
    context = oslo_wire.service_context(service, rng, project, user)
    publisher = f"{service}.{rng.choice(payloads.HOSTS)}"
    return oslo_wire.wire_body(event_type, payload, context, publisher, version=version)
