"""``[api] auth_strategy = keystone``: tokens validated in-process by auth_token.

keystonemiddleware's ``auth_token`` runs inside pipeline, configured by the
standard ``[keystone_authtoken]`` options, exactly as Panko ran it: for each
request its WSGI middleware is called with the request's method, path and
``X-Auth-Token`` only (no other header, no body) and a final application
that merely records that it was reached. The middleware removes identity
headers, validates the token against Keystone (or its token cache, for
``token_cache_time`` seconds), checks application credential access rules,
and on success hands on what it derived from the token; that, and nothing
a client sent, becomes the caller's identity. Its refusals keep their
status and ``WWW-Authenticate`` header (401; 503 when Keystone cannot be
reached).

The tickets page signs people in with keystoneauth1: user, password,
project and domain give a project-scoped token from Keystone's public
endpoint (``www_authenticate_uri``, else ``auth_url``), kept encrypted in
the session cookie and validated like any other token on every request.
Signing out revokes it in Keystone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from oslo_config import cfg
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from pipeline.api.auth import Identity
from pipeline.api.gate import Outcome, Rejection, SignInFailed
from pipeline.api.sessions import Session, SessionCodec
from pipeline.exceptions import ConfigError

LOG = logging.getLogger(__name__)
GROUP = "keystone_authtoken"
_REACHED = "pipeline.auth_token.reached"


def _reached(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    # The application behind auth_token: it only notes that it was reached.
    environ[_REACHED] = True
    start_response("204 No Content", [])
    return []


def _identity(environ: Mapping[str, Any]) -> Identity | None:
    """What auth_token derived from a token it confirmed; None otherwise."""
    plugin = environ.get("keystone.token_auth")
    if environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed" or plugin is None:
        return None
    user = plugin.user
    return Identity(
        user_id=user.user_id,
        project_id=user.project_id,
        roles=frozenset(role.lower() for role in user.role_names or ()),
        strategy="keystone",
        user_name=user.username,
    )


class Keystone:
    """Validates tokens with auth_token; signs page users in with keystoneauth1."""

    strategy = "keystone"
    sign_in_fields: tuple[str, ...] = ("username", "password", "project", "domain")
    challenge: Mapping[str, str]

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        from keystonemiddleware import auth_token

        self.conf = conf
        self._protocol = auth_token.AuthProtocol(_reached, {"oslo_config_config": conf})
        section = conf[GROUP]
        if not section.auth_type:
            raise ConfigError(
                f"[api] auth_strategy = keystone needs [{GROUP}] auth_type (usually "
                "password) with the credentials pipeline validates tokens with"
            )
        self.public_url: str = section.www_authenticate_uri or section.auth_url
        self.challenge = {"WWW-Authenticate": f'Keystone uri="{self.public_url}"'}

    def validate(self, token: str, method: str, path: str) -> Outcome:
        """Run auth_token over ``token`` (blocking: call it off the event loop)."""
        import webob

        request = webob.Request.blank(quote(path), headers={"X-Auth-Token": token})
        request.method = method
        environ = request.environ
        answer: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            answer.append((status, headers))

        from keystoneauth1 import exceptions

        try:
            body = self._protocol(environ, start_response)
        except exceptions.ClientException as err:
            # e.g. no identity endpoint of [keystone_authtoken] interface in the catalog
            LOG.error("cannot validate tokens with Keystone: %s", err)
            return Rejection(503, f"token validation is unavailable: {err}")
        if hasattr(body, "close"):
            body.close()
        found = _identity(environ)
        if found is not None:
            return found
        if environ.get(_REACHED) or not answer:  # delay_auth_decision lets it through
            return Rejection(headers=self.challenge)
        status, headers = answer[0]
        code = int(status.split()[0])
        kept = {name: value for name, value in headers if name.lower() == "www-authenticate"}
        message = Rejection.message if code == 401 else f"token validation failed: {status}"
        return Rejection(code, message, kept)

    async def from_headers(self, headers: Headers, method: str, path: str) -> Outcome:
        """The identity of the request's ``X-Auth-Token``; None without one."""
        token = headers.get("x-auth-token")
        if token is None:
            return None
        return await run_in_threadpool(self.validate, token, method, path)

    async def from_session(self, session: Session, method: str, path: str) -> Outcome:
        """The identity of the session's token, validated like a header's."""
        if not session.token:
            return Rejection()
        return await run_in_threadpool(self.validate, session.token, method, path)

    def _session(self) -> Any:
        from keystoneauth1 import session as ks_session

        section = self.conf[GROUP]
        verify = False if section.insecure else (section.cafile or True)
        cert = (section.certfile, section.keyfile) if section.certfile else None
        return ks_session.Session(verify=verify, cert=cert, timeout=section.http_connect_timeout)

    def _get_token(self, fields: Mapping[str, str]) -> tuple[str, dt.datetime | None]:
        from keystoneauth1 import exceptions
        from keystoneauth1.identity import generic

        domain = fields.get("domain") or "Default"
        auth = generic.Password(
            auth_url=self.public_url,
            username=fields.get("username", ""),
            password=fields.get("password", ""),
            user_domain_name=domain,
            project_name=fields.get("project", ""),
            project_domain_name=domain,
        )
        try:
            access = auth.get_access(self._session())
        except exceptions.Unauthorized as err:
            raise SignInFailed("Keystone refused these credentials.") from err
        except exceptions.ClientException as err:
            LOG.warning("sign-in: Keystone at %s failed: %s", self.public_url, err)
            raise SignInFailed("Keystone could not be asked; try again later.") from err
        if not access.auth_token:
            raise SignInFailed("Keystone gave no token.")
        return access.auth_token, access.expires

    async def sign_in(self, fields: Mapping[str, str], codec: SessionCodec) -> Session:
        """A session holding a project-scoped token for the form's credentials."""
        if not all(fields.get(name) for name in ("username", "password", "project")):
            raise SignInFailed("User, password and project are needed.")
        token, expires = await run_in_threadpool(self._get_token, fields)
        until = expires.timestamp() if expires else None
        return codec.new(fields["username"], token=token, until=until)

    def _revoke(self, token: str) -> None:
        from keystoneauth1 import discover, exceptions

        session = self._session()
        try:
            url = discover.get_discovery(session, self.public_url).url_for((3, 0))
            session.delete(
                f"{(url or self.public_url).rstrip('/')}/auth/tokens",
                headers={"X-Auth-Token": token, "X-Subject-Token": token},
            )
        except exceptions.ClientException as err:
            LOG.warning("sign-out: could not revoke the token in Keystone: %s", err)

    async def sign_out(self, session: Session) -> None:
        """Revoke the session's token in Keystone (a failure is only logged)."""
        if session.token:
            await run_in_threadpool(self._revoke, session.token)
