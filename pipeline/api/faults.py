"""Errors answered in Panko's shape: ``{"error_message": {"faultstring": ...}}``.

Malformed input is 400 — never 500 —, missing credentials 401, missing
rights 403, unknown items 404, a storage driver without the needed
capability 501 and storage that cannot be reached 503.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pipeline.api.auth import Forbidden, Unauthenticated
from pipeline.api.query import BadRequest
from pipeline.exceptions import InvalidQuery, MissingCapability, NotFound, StorageUnavailable

LOG = logging.getLogger(__name__)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A JSON error response in Panko's shape."""
    fault = "Client" if status < 500 else "Server"
    body = {"error_message": {"faultstring": message, "faultcode": fault, "debuginfo": None}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "query")
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "Invalid input: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Answer the project's exceptions with their status codes."""

    async def bad_request(_: Request, err: Exception) -> JSONResponse:
        return error(400, str(err))

    async def invalid_params(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        return error(400, _validation_message(err))

    async def unauthenticated(_: Request, err: Exception) -> JSONResponse:
        return error(401, str(err))

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
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(MissingCapability, not_capable)
    app.add_exception_handler(StorageUnavailable, unavailable)
