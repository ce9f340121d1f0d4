"""The ASGI application: ``create_app(conf)`` for uvicorn or any ASGI server.

The storage connection is opened when the server starts the application
(FastAPI lifespan) and closed when it stops; one connection object serves
every request (the SQLAlchemy engine pools connections and is thread-safe).

Errors are answered in Panko's shape (``{"error_message": {"faultstring":
...}}``): malformed input is 400 — never 500 —, missing rights 403, unknown
items 404, a storage driver without the needed capability 501 and storage
that cannot be reached 503.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from oslo_config import cfg
from starlette.exceptions import HTTPException

from pipeline import __version__, storage
from pipeline.api import events, page, tickets
from pipeline.api.auth import Forbidden
from pipeline.api.query import BadRequest
from pipeline.exceptions import InvalidQuery, MissingCapability, NotFound, StorageUnavailable
from pipeline.storage import Capability, Connection

LOG = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


def error(status: int, message: str) -> JSONResponse:
    """A JSON error response in Panko's shape."""
    fault = "Client" if status < 500 else "Server"
    body = {"error_message": {"faultstring": message, "faultcode": fault, "debuginfo": None}}
    return JSONResponse(body, status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "query")
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "Invalid input: " + "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    async def bad_request(_: Request, err: Exception) -> JSONResponse:
        return error(400, str(err))

    async def invalid_params(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        return error(400, _validation_message(err))

    async def forbidden(_: Request, err: Exception) -> JSONResponse:
        return error(403, str(err))

    async def not_found(_: Request, err: Exception) -> JSONResponse:
        return error(404, str(err))

    async def http_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, HTTPException)
        return error(err.status_code, str(err.detail))

    async def not_capable(_: Request, err: Exception) -> JSONResponse:
        return error(501, str(err))

    async def unavailable(_: Request, err: Exception) -> JSONResponse:
        LOG.warning("storage unavailable: %s", err)
        return error(503, f"storage unavailable: {err}")

    app.add_exception_handler(BadRequest, bad_request)
    app.add_exception_handler(InvalidQuery, bad_request)
    app.add_exception_handler(RequestValidationError, invalid_params)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(MissingCapability, not_capable)
    app.add_exception_handler(StorageUnavailable, unavailable)


def create_app(conf: cfg.ConfigOpts, conn: Connection | None = None) -> FastAPI:
    """The API and tickets page over ``[database] connection`` (or ``conn``).

    A given ``conn`` is used as is and left open at shutdown (its owner
    closes it); otherwise the connection is opened at start-up and closed at
    shutdown.
    """
    noauth = conf.api.auth_strategy == "noauth"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if noauth:
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
    app.state.noauth = noauth
    if conn is not None:  # usable even by a server that skips the lifespan events
        app.state.conn = conn
    _install_error_handlers(app)
    app.include_router(events.router)
    app.include_router(tickets.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
