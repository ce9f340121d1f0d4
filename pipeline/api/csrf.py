"""CSRF tokens of the tickets page's forms.

Every browser gets a random nonce in the ``pipeline_csrf`` cookie (HttpOnly,
SameSite=Strict, Secure over HTTPS) the first time it loads a page. Each
state-changing form (Solve, sign in, sign out) carries the token
HMAC(key, nonce | session id) in a hidden field, and its POST is refused
(403) unless the field matches the cookie and the current session. Another
site can make the browser send the cookie at most, never read the page to
learn the token. Signing in and out draws a new nonce.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.api.auth import Forbidden
from pipeline.api.gate import SESSION_KEY, is_api
from pipeline.api.sessions import SessionCodec

COOKIE = "pipeline_csrf"
FIELD = "csrf_token"
NONCE_KEY = "pipeline.csrf_nonce"
#: Largest form body read; the page's forms are a few hundred bytes.
MAX_FORM_BYTES = 16384


def cookie_header(name: str, value: str, secure: bool, max_age: int | None = None) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, path /, Secure when asked."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    if secure:
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    return morsel.OutputString()


def is_https(scope: Scope) -> bool:
    """True when the request came over HTTPS (as the server saw it)."""
    return scope.get("scheme") in ("https", "wss")


def new_nonce(response: Response, scope: Scope) -> None:
    """Give the browser a fresh nonce with ``response`` (after sign-in and sign-out)."""
    response.headers.append(
        "set-cookie", cookie_header(COOKIE, secrets.token_urlsafe(24), is_https(scope))
    )


class CsrfNonce:
    """ASGI middleware: give every page request a nonce, sent as a cookie when new.

    The JSON API and static files get none: they have no forms.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_api(scope["path"]) or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        nonce = HTTPConnection(scope).cookies.get(COOKIE)
        if nonce and 16 <= len(nonce) <= 64:
            scope[NONCE_KEY] = nonce
            await self.app(scope, receive, send)
            return
        scope[NONCE_KEY] = fresh = secrets.token_urlsafe(24)
        header = cookie_header(COOKIE, fresh, is_https(scope)).encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _sid(request: HTTPConnection) -> str:
    session = request.scope.get(SESSION_KEY)
    return session.sid if session is not None else ""


def token(request: HTTPConnection) -> str:
    """The CSRF token the forms of this page must carry."""
    codec: SessionCodec = request.app.state.sessions
    return codec.csrf_token(request.scope.get(NONCE_KEY, ""), _sid(request))


async def checked_form(request: Request) -> dict[str, str]:
    """The POSTed form's fields, after its CSRF token was checked (Forbidden otherwise)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Forbidden("form too large")
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    cookie_nonce = request.cookies.get(COOKIE)
    sent = fields.get(FIELD, "")
    if not cookie_nonce or not hmac.compare_digest(sent.encode(), token(request).encode()):
        raise Forbidden("The form's CSRF token is missing or wrong: reload the page and retry.")
    return fields
