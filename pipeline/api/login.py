"""Signing in to and out of the tickets page: ``/login`` and ``/logout``.

``GET /login`` shows the form of the configured strategy (Keystone: user,
password, project and domain; basic: user and password). A good ``POST
/login`` sets the session cookie (see :mod:`pipeline.api.sessions`) and goes
on to the page that asked for it; a bad one shows the form again with 401.
``POST /logout`` ends the session: the cookie is deleted, the session is
forgotten and, with Keystone, its token revoked. Both forms carry a CSRF
token; under ``noauth`` there is nothing to sign in to.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.api import csrf
from pipeline.api.auth import Forbidden
from pipeline.api.gate import SESSION_KEY, Authenticator, SignInFailed
from pipeline.api.page import safe_next, templates
from pipeline.api.sessions import COOKIE, SessionCodec

router = APIRouter(include_in_schema=False)
Next = Annotated[str | None, Query(alias="next")]
LABELS = {"username": "User", "password": "Password", "project": "Project", "domain": "Domain"}


def _form(request: Request, next_url: str, status: int = 200, message: str = "") -> Response:
    authenticator: Authenticator = request.app.state.authenticator
    fields = [
        {"name": name, "label": LABELS[name], "type": "password" if name == "password" else "text"}
        for name in authenticator.sign_in_fields
    ]
    context = {"fields": fields, "next": next_url, "message": message, "domain": "Default"}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next_url: Next = None) -> Response:
    """The sign-in form (straight on to the page under noauth)."""
    target = safe_next(next_url, "/tickets")
    if not request.app.state.authenticator.sign_in_fields:
        return RedirectResponse(target, status_code=303)
    return _form(request, target)


@router.post("/login")
async def login(request: Request, next_url: Next = None) -> Response:
    """Check the credentials, set the session cookie and go on."""
    target = safe_next(next_url, "/tickets")
    try:
        fields = await csrf.checked_form(request)
    except Forbidden as err:
        return _form(request, target, 403, str(err))
    codec: SessionCodec = request.app.state.sessions
    try:
        session = await request.app.state.authenticator.sign_in(fields, codec)
    except SignInFailed as err:
        return _form(request, target, 401, str(err))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        codec.encode(session),
        max_age=session.max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=csrf.is_https(request.scope),
    )
    csrf.new_nonce(response, request.scope)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session and go back to the sign-in form."""
    try:
        await csrf.checked_form(request)
    except Forbidden as err:
        return templates.TemplateResponse(
            request, "error.html", {"status": 403, "message": str(err)}, status_code=403
        )
    session = request.scope.get(SESSION_KEY)
    if session is not None:
        request.app.state.sessions.sign_out(session)
        await request.app.state.authenticator.sign_out(session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    csrf.new_nonce(response, request.scope)
    return response
