"""The ASGI application: ``create_app(conf)`` for uvicorn or any ASGI server.

The storage connection is opened when the server starts the application
(FastAPI lifespan) and closed when it stops; one connection object serves
every request (the SQLAlchemy engine pools connections and is thread-safe).

Around the routes, from the outside in: security headers on every answer
(:mod:`~pipeline.api.hardening`), authentication of every request outside
:data:`PUBLIC_PATHS` by the ``[api] auth_strategy`` (:mod:`~pipeline.api.gate`),
and the tickets page's CSRF nonce (:mod:`~pipeline.api.csrf`). What an
authenticated caller may do is the policy's (:mod:`~pipeline.api.policy`).
Errors are answered in Panko's shape (:mod:`~pipeline.api.faults`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from oslo_config import cfg

from pipeline import __version__, storage
from pipeline.api import events, faults, login, monitoring, page, tickets
from pipeline.api.csrf import CsrfNonce
from pipeline.api.gate import Authenticator, Gate
from pipeline.api.hardening import SecurityHeaders
from pipeline.api.noauth import NoAuth, check_listen_address
from pipeline.api.policy import Policy
from pipeline.api.sessions import SessionCodec
from pipeline.storage import Capability, Connection

LOG = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
#: Paths anyone may reach without credentials: probes, metrics, the API's
#: description and the sign-in form. Everything else is authenticated.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/login",
    }
)
PUBLIC_PREFIXES = ("/static/",)


def authenticator(conf: cfg.ConfigOpts) -> Authenticator:
    """The authenticator of ``[api] auth_strategy``."""
    strategy = conf.api.auth_strategy
    if strategy == "keystone":
        from pipeline.api.keystone import Keystone

        return Keystone(conf)
    if strategy == "basic":
        from pipeline.api.basic import Basic

        return Basic(conf)
    return NoAuth()


def create_app(
    conf: cfg.ConfigOpts,
    conn: Connection | None = None,
    auth: Authenticator | None = None,
) -> FastAPI:
    """The API and tickets page over ``[database] connection`` (or ``conn``).

    A given ``conn`` is used as is and left open at shutdown (its owner
    closes it); otherwise the connection is opened at start-up and closed at
    shutdown. ``auth`` replaces the authenticator of ``[api]
    auth_strategy``, for programs embedding the API (a benchmark, a test).
    Raises ConfigError for a configuration that cannot be served safely
    (noauth on a non-loopback ``[api] host``, basic without its file).
    """
    check_listen_address(conf, conf.api.host)
    gatekeeper = auth or authenticator(conf)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if gatekeeper.strategy == "noauth":
            LOG.warning(
                "[api] auth_strategy = noauth: EVERY caller is an admin and sees "
                "every event and ticket. Use this for development only."
            )
        own = conn is None
        app.state.conn = (
            storage.get_connection_from_config(conf, require=[Capability.EVENTS]) if own else conn
        )
        try:
            yield
        finally:
            if own:
                app.state.conn.close()

    app = FastAPI(
        title="pipeline",
        version=__version__,
        description="Events (Panko v2 compatible) and tickets, and the tickets page.",
        lifespan=lifespan,
    )
    app.state.conf = conf
    app.state.authenticator = gatekeeper
    app.state.policy = Policy(conf)
    app.state.sessions = SessionCodec(conf.api.session_secret, conf.api.session_lifetime)
    if conn is not None:  # usable even by a server that skips the lifespan events
        app.state.conn = conn
    faults.install_error_handlers(app)
    app.include_router(events.router)
    app.include_router(tickets.router)
    app.include_router(page.router)
    app.include_router(login.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Added last = runs first: headers, then authentication, then the nonce.
    app.add_middleware(CsrfNonce)
    app.add_middleware(
        Gate,
        authenticator=gatekeeper,
        codec=app.state.sessions,
        public_paths=PUBLIC_PATHS,
        public_prefixes=PUBLIC_PREFIXES,
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: counts every request, also those refused before routing.
    monitoring.install(app, conf)
    return app
