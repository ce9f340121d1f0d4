"""Security headers on every response.

The tickets page runs no script at all, so its Content-Security-Policy
allows none: even markup that slipped past Jinja2's escaping could not
execute. Styles come from /static only, forms post to this site only, and
no other site may frame the page (clickjacking) or learn its URLs from a
Referer; no cache keeps an answer. The interactive API documentation (/docs, /redoc) loads FastAPI's
script bundle, so it alone gets no Content-Security-Policy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
)
#: Answers carry private data: no cache may keep them (static files excepted).
NO_STORE = (b"cache-control", b"no-store")
#: Paths whose pages need scripts of FastAPI's own.
SCRIPTED = ("/docs", "/docs/oauth2-redirect", "/redoc")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HEADERS)
        if scope["path"] not in SCRIPTED:
            extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
        if not scope["path"].startswith("/static/"):
            extra.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in names]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
