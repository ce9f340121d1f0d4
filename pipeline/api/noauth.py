"""``[api] auth_strategy = noauth``: everyone is an admin, on loopback only.

For a laptop: every request is an admin of no project, no rule applies and
there is nothing to sign in to. Because anyone who reaches the port can then
read and delete everything, the API refuses to start with ``noauth`` on an
address that is not loopback, unless ``[api] allow_noauth_on_any_address``
says so explicitly.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Mapping

from oslo_config import cfg
from starlette.datastructures import Headers

from pipeline.api.auth import NOAUTH
from pipeline.api.gate import Outcome, SignInFailed
from pipeline.api.sessions import Session, SessionCodec
from pipeline.exceptions import ConfigError

LOG = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # an unresolvable name is not known to be loopback
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def check_listen_address(conf: cfg.ConfigOpts, host: str) -> None:
    """Refuse (ConfigError) to serve noauth on ``host`` unless it is loopback or allowed."""
    api = conf.api
    if api.auth_strategy != "noauth":
        return
    if is_loopback(host):
        return
    if api.allow_noauth_on_any_address:
        LOG.warning(
            "[api] auth_strategy = noauth on %s (allow_noauth_on_any_address = true): "
            "everyone who reaches it can read and delete everything",
            host,
        )
        return
    raise ConfigError(
        f"[api] auth_strategy = noauth refuses to serve on {host}, which is not a "
        "loopback address: anyone reaching it could read and delete everything. "
        "Use auth_strategy = keystone or basic, listen on 127.0.0.1 ([api] host), "
        "or set [api] allow_noauth_on_any_address = true"
    )


class NoAuth:
    """Every request is :data:`~pipeline.api.auth.NOAUTH`."""

    strategy = "noauth"
    sign_in_fields: tuple[str, ...] = ()
    challenge: Mapping[str, str] = {}

    async def from_headers(self, headers: Headers, method: str, path: str) -> Outcome:
        """Always the noauth identity."""
        return NOAUTH

    async def from_session(self, session: Session, method: str, path: str) -> Outcome:
        """Never reached: from_headers always answers."""
        return NOAUTH

    async def sign_in(self, fields: Mapping[str, str], codec: SessionCodec) -> Session:
        """There is nothing to sign in to."""
        raise SignInFailed("auth_strategy = noauth has no sign-in")

    async def sign_out(self, session: Session) -> None:
        """Nothing to end."""
