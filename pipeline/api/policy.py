"""Access rules as OpenStack services write them: oslo.policy, defaults in code.

Every operation of the API has a rule; an operator overrides any of them in
``[oslo_policy] policy_file`` (``policy.yaml`` beside the configuration by
default), which is re-read when it changes. ``oslopolicy-sample-generator
--namespace pipeline`` prints them all (entry point ``oslo.policy.policies``).

The defaults are Panko's, as its deployments ran them: the ``admin`` role
is ``context_is_admin``; ``segregation`` decides who sees events beyond
their own user and project; reading events needs only a valid token (the
scope does the limiting). Event types and traits need ``segregation`` (Panko
answered them for admins only), ``all_tenants`` widens the view of those
who pass ``segregation``, and tickets, which belong to no project, are for
admins. With Keystone's default roles (admin implies member implies reader)
a reader and a member both see their own events, and only an admin sees
the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

CONTEXT_IS_ADMIN = "context_is_admin"
SEGREGATION = "segregation"
EVENTS_INDEX = "telemetry:events:index"
EVENTS_SHOW = "telemetry:events:show"
EVENTS_ALL_TENANTS = "telemetry:events:all_tenants"
EVENT_TYPES_INDEX = "telemetry:event_types:index"
EVENT_TYPES_TRAITS = "telemetry:event_types:traits"
TICKETS_READ = "pipeline:tickets:read"
TICKETS_SOLVE = "pipeline:tickets:solve"
TICKETS_DELETE = "pipeline:tickets:delete"

_ADMIN = f"rule:{CONTEXT_IS_ADMIN}"
_UNLIMITED = f"rule:{SEGREGATION}"


def _rule(name: str, check: str, description: str, *operations: tuple[str, str]) -> Any:
    return policy.DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
        scope_types=["project"],
    )


RULES: list[policy.RuleDefault] = [
    policy.RuleDefault(CONTEXT_IS_ADMIN, "role:admin", description="Who is an administrator."),
    _rule(
        SEGREGATION,
        _ADMIN,
        "Callers who fail this rule see only events whose project_id and user_id "
        "traits are their own; those who pass see their project's events and "
        "events of no project.",
        ("GET", "/v2/events"),
        ("GET", "/v2/events/{message_id}"),
    ),
    _rule(EVENTS_INDEX, "", "List events matching the query filters.", ("GET", "/v2/events")),
    _rule(EVENTS_SHOW, "", "Show one event.", ("GET", "/v2/events/{message_id}")),
    _rule(
        EVENTS_ALL_TENANTS,
        _UNLIMITED,
        "Let q.field=all_tenants widen the view to every project's events "
        "(only for callers who pass segregation).",
        ("GET", "/v2/events"),
    ),
    _rule(
        EVENT_TYPES_INDEX,
        _UNLIMITED,
        "List the event types.",
        ("GET", "/v2/event_types"),
        ("GET", "/v2/event_types/{event_type}"),
    ),
    _rule(
        EVENT_TYPES_TRAITS,
        _UNLIMITED,
        "List the trait names and types of an event type, and the values of a trait.",
        ("GET", "/v2/event_types/{event_type}/traits"),
        ("GET", "/v2/event_types/{event_type}/traits/{trait_name}"),
    ),
    _rule(
        TICKETS_READ,
        _ADMIN,
        "List and show tickets and their occurrences, and see the tickets page.",
        ("GET", "/v1/tickets"),
        ("GET", "/v1/tickets/{ticket_id}"),
        ("GET", "/v1/tickets/{ticket_id}/occurrences"),
        ("GET", "/tickets"),
    ),
    _rule(
        TICKETS_SOLVE,
        _ADMIN,
        "Mark a ticket solved.",
        ("POST", "/v1/tickets/{ticket_id}/solve"),
        ("POST", "/tickets/{ticket_id}/solve"),
    ),
    _rule(
        TICKETS_DELETE,
        _ADMIN,
        "Delete a ticket and its occurrences.",
        ("DELETE", "/v1/tickets/{ticket_id}"),
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    """Every rule with its default (entry point ``oslo.policy.policies``)."""
    return list(RULES)


class Policy:
    """The rules of one application, over its configuration."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(RULES)

    @property
    def enforcer(self) -> policy.Enforcer:
        """The oslo.policy enforcer (for tools that want one)."""
        return self._enforcer

    def allows(
        self, rule: str, creds: Mapping[str, Any], target: Mapping[str, Any] | None = None
    ) -> bool:
        """True when ``creds`` pass ``rule`` for ``target``.

        An unknown rule or a token of another scope is a refusal, never an error.
        """
        try:
            return bool(
                self._enforcer.authorize(rule, dict(target or {}), dict(creds), do_raise=False)
            )
        except (policy.InvalidScope, policy.PolicyNotRegistered):
            return False


def get_enforcer() -> policy.Enforcer:
    """An enforcer over the default configuration (entry point ``oslo.policy.enforcer``).

    For oslo.policy's tools (``oslopolicy-policy-generator``,
    ``oslopolicy-list-redundant``), which read ``[oslo_policy]`` from
    pipeline's usual configuration files.
    """
    from pipeline.service import prepare_service

    return Policy(prepare_service([])).enforcer
