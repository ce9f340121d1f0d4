"""Who is asking and what they may do: the caller of an endpoint.

The authentication middleware (:mod:`pipeline.api.gate`) puts the caller's
:class:`Identity` in the request scope after checking their credentials;
headers a client sends are never read here. :class:`Caller` joins that
identity to the policy (:mod:`pipeline.api.policy`):

* With Keystone, a request whose token names no user and project (an
  unscoped or system-scoped token) gets 403, as in Panko.
* ``segregation`` decides the event scope. Callers who pass it see their
  project's events plus events that carry no ``project_id`` trait (Panko's
  ``admin_proj``), and every event when the query asks for ``all_tenants``
  and ``telemetry:events:all_tenants`` allows it; callers who fail it see
  only events whose ``project_id`` and ``user_id`` traits are their own.
* ``basic`` users are admins of no project: they pass the admin rules and
  their events scope is everything.
* With ``noauth`` no rule is consulted: every request may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from pipeline.api import policy
from pipeline.api.query import Scope

#: Where the middleware leaves the :class:`Identity` in the ASGI scope.
SCOPE_KEY = "pipeline.identity"


class Forbidden(Exception):
    """The caller may not do this; the message says why (HTTP 403)."""


class Unauthenticated(Exception):
    """No valid credentials came with the request (HTTP 401)."""


@dataclass(frozen=True)
class Identity:
    """A caller whose credentials were checked by the configured strategy."""

    user_id: str | None
    project_id: str | None
    roles: frozenset[str]
    strategy: str
    user_name: str | None = None

    @property
    def noauth(self) -> bool:
        """True under ``auth_strategy = noauth``: no rule applies."""
        return self.strategy == "noauth"

    @property
    def display_name(self) -> str:
        """How the tickets page names the signed-in user."""
        return self.user_name or self.user_id or "anonymous"

    def creds(self) -> dict[str, Any]:
        """oslo.policy credentials of this caller."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "roles": sorted(self.roles),
        }


NOAUTH = Identity(None, None, frozenset(), "noauth")


@dataclass(frozen=True)
class Caller:
    """An identity and the policy that says what it may do."""

    identity: Identity
    rules: policy.Policy

    def allows(self, rule: str) -> bool:
        """True when the caller passes ``rule`` (always under noauth)."""
        if self.identity.noauth:
            return True
        target = {"project_id": self.identity.project_id, "user_id": self.identity.user_id}
        return self.rules.allows(rule, self.identity.creds(), target)

    def require_context(self) -> Caller:
        """Refuse a Keystone token that names no user and project (Panko's 403)."""
        ident = self.identity
        if ident.strategy == "keystone" and not (ident.user_id and ident.project_id):
            raise Forbidden("RBAC Authorization Failed")
        return self

    def require(self, rule: str, message: str | None = None) -> Caller:
        """Refuse the caller unless ``rule`` allows them."""
        self.require_context()
        if not self.allows(rule):
            raise Forbidden(message or f"Not Authorized to access project {self.project_label}")
        return self

    @property
    def project_label(self) -> str:
        """The caller's project as error messages name it."""
        return self.identity.project_id or "(none)"

    def scope(self) -> Scope:
        """The events this caller may see (see the module docstring)."""
        ident = self.identity
        if ident.noauth:
            return Scope()
        if self.allows(policy.SEGREGATION):
            return Scope(
                admin_proj=ident.project_id, all_tenants=self.allows(policy.EVENTS_ALL_TENANTS)
            )
        return Scope(user_id=ident.user_id or "", project_id=ident.project_id)


def identity(request: Request) -> Identity:
    """FastAPI dependency: the authenticated caller of ``request``."""
    found = request.scope.get(SCOPE_KEY)
    if not isinstance(found, Identity):
        # Only public paths skip the middleware, and none of them asks.
        raise Unauthenticated("The request you have made requires authentication.")
    return found


def caller(request: Request, who: Annotated[Identity, Depends(identity)]) -> Caller:
    """FastAPI dependency: the caller with the application's policy."""
    return Caller(who, request.app.state.policy)


CallerDep = Annotated[Caller, Depends(caller)]
