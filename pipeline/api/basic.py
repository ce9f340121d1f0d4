"""``[api] auth_strategy = basic``: the users of an htpasswd file are admins.

For ticketing without OpenStack. Programs send HTTP Basic credentials
(``curl -u user:password``) with every API request; people sign in to the
tickets page with the same user and password and get a session cookie.
Every user in the file is an admin of no project: they pass the admin rules
of the policy and see every event.

A refused API request gets 401 without a ``WWW-Authenticate: Basic``
challenge, on purpose: a browser that was once prompted would keep the
credentials and send them with requests other sites make it send.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from oslo_config import cfg
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from pipeline.api.auth import Identity
from pipeline.api.gate import Outcome, Rejection, SignInFailed
from pipeline.api.htpasswd import Htpasswd
from pipeline.api.sessions import Session, SessionCodec
from pipeline.exceptions import ConfigError

ROLES = frozenset({"admin"})
REFUSED = "Invalid user name or password."


def credentials(header: str) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` value; None when not Basic or malformed."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep and user else None


class Basic:
    """Checks HTTP Basic credentials and page sessions against an htpasswd file."""

    strategy = "basic"
    sign_in_fields: tuple[str, ...] = ("username", "password")
    #: No Basic challenge (see the module docstring).
    challenge: Mapping[str, str] = {}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        if not conf.api.htpasswd_file:
            raise ConfigError("[api] auth_strategy = basic needs [api] htpasswd_file")
        self.users = Htpasswd(conf.api.htpasswd_file)

    @staticmethod
    def identity(user: str) -> Identity:
        """The identity of a checked user: an admin of no project."""
        return Identity(user, None, ROLES, "basic", user_name=user)

    async def from_headers(self, headers: Headers, method: str, path: str) -> Outcome:
        """The user of an ``Authorization: Basic`` header, if one was sent."""
        header = headers.get("authorization")
        if header is None:
            return None
        found = credentials(header)
        if found is None:
            return Rejection(message="Malformed Basic credentials.")
        if await run_in_threadpool(self.users.check, *found):
            return self.identity(found[0])
        return Rejection(message=REFUSED)

    async def from_session(self, session: Session, method: str, path: str) -> Outcome:
        """The session's user, while the file still lists them."""
        if session.user in self.users.users():
            return self.identity(session.user)
        return Rejection()

    async def sign_in(self, fields: Mapping[str, str], codec: SessionCodec) -> Session:
        """A session for a right user name and password."""
        user, password = fields.get("username", ""), fields.get("password", "")
        good = False
        if user:
            good = await run_in_threadpool(self.users.check, user, password)
        if not good:
            raise SignInFailed(REFUSED)
        return codec.new(user)

    async def sign_out(self, session: Session) -> None:
        """Nothing beyond forgetting the session (done by the caller)."""
