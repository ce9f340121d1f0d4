"""Authentication in front of every route: who is asking, or no entry.

:class:`Gate` is ASGI middleware. For each HTTP request it first removes
every identity header the client sent (``X-User-Id``, ``X-Roles``,
``X-Project-*``, ``X-Identity-Status``, ``X-Service-*``, ...), so nothing
downstream can ever read a spoofed one, then:

* a public path (health, metrics, the OpenAPI document, the sign-in form,
  static files) goes through without an identity;
* otherwise the configured :class:`Authenticator` checks the request's
  credentials: headers (``X-Auth-Token``, ``Authorization: Basic``) on any
  path, and the session cookie on the tickets page's paths only (never on
  the JSON API under ``/v1`` and ``/v2``);
* a request it accepts carries its :class:`~pipeline.api.auth.Identity` in
  the ASGI scope (and its session, if any); a refused API request is
  answered 401 (or what the authenticator says, e.g. 503 when Keystone is
  unreachable), a refused page request is sent to the sign-in form.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.api import faults
from pipeline.api.auth import SCOPE_KEY, Identity
from pipeline.api.sessions import COOKIE, Session, SessionCodec

SESSION_KEY = "pipeline.session"
#: Header name prefixes that carry an identity: never taken from a client.
IDENTITY_HEADER_PREFIXES = (
    b"x-user",
    b"x-project",
    b"x-tenant",
    b"x-role",
    b"x-domain",
    b"x-identity-status",
    b"x-service-",
    b"x-is-admin-project",
    b"x-trust",
    b"x-app-cred",
    b"x-system",
    b"openstack-system-scope",
)
API_PREFIXES = ("/v1/", "/v2/")


@dataclass(frozen=True)
class Rejection:
    """Why credentials were refused, as an HTTP answer."""

    status: int = 401
    message: str = "The request you have made requires authentication."
    headers: Mapping[str, str] = field(default_factory=dict)


Outcome = Identity | Rejection | None


class SignInFailed(Exception):
    """The sign-in form's credentials were refused; the message is safe to show."""


class Authenticator(Protocol):
    """One ``[api] auth_strategy``: how credentials become an identity."""

    strategy: str
    #: Fields of the sign-in form; empty when there is nothing to sign in to.
    sign_in_fields: tuple[str, ...]
    #: Headers of a 401 answer (``WWW-Authenticate``), when the strategy has one.
    challenge: Mapping[str, str]

    async def from_headers(self, headers: Headers, method: str, path: str) -> Outcome:
        """The identity of a request's header credentials; None without any."""

    async def from_session(self, session: Session, method: str, path: str) -> Outcome:
        """The identity of a page session, or a rejection when it no longer holds."""

    async def sign_in(self, fields: Mapping[str, str], codec: SessionCodec) -> Session:
        """A new session for the sign-in form's ``fields`` (SignInFailed otherwise)."""

    async def sign_out(self, session: Session) -> None:
        """End ``session`` wherever it can be ended (e.g. revoke its token)."""


def strip_identity_headers(scope: Scope) -> None:
    """Drop every client-sent identity header from ``scope``."""
    scope["headers"] = [
        (name, value)
        for name, value in scope["headers"]
        if not name.lower().startswith(IDENTITY_HEADER_PREFIXES)
    ]


def is_api(path: str) -> bool:
    """True for the JSON API's paths, where no cookie counts."""
    return path.startswith(API_PREFIXES) or path in ("/v1", "/v2")


class Gate:
    """ASGI middleware: authenticate every non-public request (see module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        codec: SessionCodec,
        public_paths: Collection[str] = (),
        public_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.codec = codec
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = public_prefixes

    def is_public(self, path: str) -> bool:
        """True for paths anyone may reach."""
        return path in self.public_paths or path.startswith(self.public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the application has none: refuse them all
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        strip_identity_headers(scope)
        scope.pop(SCOPE_KEY, None)
        scope.pop(SESSION_KEY, None)
        if self.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        outcome = await self._authenticate(scope)
        if isinstance(outcome, Identity):
            scope[SCOPE_KEY] = outcome
            await self.app(scope, receive, send)
            return
        refusal = outcome or Rejection(headers=self.authenticator.challenge)
        await self._refuse(scope, refusal)(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Outcome:
        conn = HTTPConnection(scope)
        method, path = scope.get("method", "GET"), scope["path"]
        outcome = await self.authenticator.from_headers(conn.headers, method, path)
        if outcome is not None or is_api(path):
            return outcome
        session = self.codec.decode(conn.cookies.get(COOKIE))
        if session is None:
            return None
        outcome = await self.authenticator.from_session(session, method, path)
        if isinstance(outcome, Identity):
            scope[SESSION_KEY] = session
        return outcome

    def _refuse(self, scope: Scope, rejection: Rejection) -> Response:
        path = scope["path"]
        if is_api(path) or rejection.status != 401:
            return faults.error(rejection.status, rejection.message, rejection.headers)
        query = scope.get("query_string", b"").decode("latin-1")
        here = path + ("?" + query if query else "")
        if scope.get("method", "GET") not in ("GET", "HEAD"):
            here = "/tickets"  # after signing in, a form's target is not a page to GET
        response = RedirectResponse("/login?next=" + quote(here, safe=""), status_code=303)
        if COOKIE in HTTPConnection(scope).cookies:
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response
