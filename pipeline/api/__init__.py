"""The read side over HTTP: Panko v2 event API, ticket API, tickets page.

:func:`create_app` builds the ASGI application for any ASGI server (``pipeline
api`` runs it under uvicorn). FastAPI is imported only when the application
is built, so the CLI works without the ``api`` extra installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from oslo_config import cfg

    from pipeline.api.gate import Authenticator
    from pipeline.storage import Connection


def create_app(
    conf: cfg.ConfigOpts, conn: Connection | None = None, auth: Authenticator | None = None
) -> FastAPI:
    """See :func:`pipeline.api.app.create_app`."""
    from pipeline.api.app import create_app as build

    return build(conf, conn, auth)
