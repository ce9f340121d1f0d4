"""Who is asking: Panko's access rules over keystonemiddleware's headers.

With ``[api] auth_strategy = keystone`` the API trusts ``X-User-Id``,
``X-Project-Id`` and ``X-Roles`` (comma-separated), which keystonemiddleware
sets after validating a token; the API must only be reachable through it.

* A request without both ``X-User-Id`` and ``X-Project-Id`` gets 403.
* The ``admin`` role makes a caller an admin. An admin's event queries are
  limited to events of their own project plus events that carry no
  ``project_id`` trait (Panko's ``admin_proj``), unless the query asks for
  ``all_tenants``.
* Anyone else sees only events whose ``project_id`` and ``user_id`` traits
  are their own, and is refused (403) the admin-only endpoints (event types,
  traits, every ticket endpoint and the tickets page).

With ``noauth`` every request is an admin of no project: no scoping at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from pipeline.api.query import Scope

ADMIN_ROLE = "admin"


class Forbidden(Exception):
    """The caller may not do this; the message says why (HTTP 403)."""


@dataclass(frozen=True)
class Identity:
    """The caller as the headers describe them."""

    user_id: str | None
    project_id: str | None
    roles: frozenset[str]
    noauth: bool = False

    @property
    def is_admin(self) -> bool:
        """True for the admin role, and for everyone under noauth."""
        return self.noauth or ADMIN_ROLE in self.roles

    def require_context(self) -> Identity:
        """Refuse a request that names no user and project (Panko's 403)."""
        if not self.noauth and not (self.user_id and self.project_id):
            raise Forbidden("RBAC Authorization Failed")
        return self

    def require_admin(self) -> Identity:
        """Refuse a non-admin caller."""
        self.require_context()
        if not self.is_admin:
            raise Forbidden(f"Not Authorized to access project {self.project_id}")
        return self

    def scope(self) -> Scope:
        """The event scope of this caller (see the module docstring)."""
        if self.noauth:
            return Scope()
        if self.is_admin:
            return Scope(admin_proj=self.project_id)
        return Scope(user_id=self.user_id, project_id=self.project_id)


def identity(request: Request) -> Identity:
    """FastAPI dependency: the caller of ``request``."""
    if request.app.state.noauth:
        return Identity(None, None, frozenset(), noauth=True)
    roles = request.headers.get("X-Roles", "")
    return Identity(
        user_id=request.headers.get("X-User-Id") or None,
        project_id=request.headers.get("X-Project-Id") or None,
        roles=frozenset(role.strip().lower() for role in roles.split(",") if role.strip()),
    )
