"""The API's metrics and health probes: ``/metrics``, ``/healthz``, ``/readyz``.

:func:`install` adds to an application

* a request counter and latency histogram by route *template* (``/v2/events/{message_id}``,
  never the raw path, so the series stay bounded), method and status;
* ``GET /healthz`` — 200 while the process serves;
* ``GET /readyz`` — 200 when the storage answered within ``[metrics]
  ready_timeout``, else 503, with a JSON account;
* ``GET /metrics`` — unless ``[metrics] api_listen`` moves it to a listener
  of its own (:func:`serve_metrics`, started by ``pipeline api``) so it stays
  off a public port.

None of these paths takes credentials (probes and scrapers carry none):
they are among :data:`pipeline.api.app.PUBLIC_PATHS`. The middleware is the
outermost one, so requests the authentication refuses before routing are
counted too, under the route ``<unmatched>``. Each application has its own
registry (``app.state.metrics_registry``), so several can live in one
process.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from oslo_config import cfg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline import __version__
from pipeline.metrics.probe import StorageProbe
from pipeline.metrics.server import Listener, application, parse_listen

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds per request; the API answers most in milliseconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ApiMetrics:
    """The API's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        Gauge(
            "pipeline_build_info",
            "pipeline's version (always 1)",
            ["version"],
            registry=self.registry,
        ).labels(__version__).set(1)
        self.requests = Counter(
            "pipeline_api_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "pipeline_api_request_seconds",
            "Seconds from request to the end of the response, by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.requests = metrics.requests
        self.seconds = metrics.seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router put the matched route into the scope (shared dict).
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.requests.labels(route, method, str(status[0])).inc()
            self.seconds.labels(route, method).observe(time.perf_counter() - started)


def install(app: FastAPI, conf: cfg.ConfigOpts) -> None:
    """Add the request metrics and the monitoring routes to ``app``."""
    metrics = ApiMetrics()
    app.state.metrics_registry = metrics.registry
    app.state.storage_probe = StorageProbe(
        conf.metrics.ready_timeout, connection=lambda: getattr(app.state, "conn", None)
    )
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.include_router(_router(serve_metrics_here=not conf.metrics.api_listen.strip()))


def _router(serve_metrics_here: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"alive": True}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        ready, body = await run_in_threadpool(readiness, request.app)
        return JSONResponse(body, status_code=200 if ready else 503)

    if serve_metrics_here:

        @router.get("/metrics")
        def metrics(request: Request) -> Response:
            output = generate_latest(request.app.state.metrics_registry)
            return Response(output, media_type=CONTENT_TYPE_LATEST)

    return router


def readiness(app: FastAPI) -> tuple[bool, dict[str, Any]]:
    """Ready when the API's storage connection answers within the bound."""
    result = app.state.storage_probe.check()
    storage = {"ok": result.ok, "detail": result.detail, "seconds": result.seconds}
    return result.ok, {"ready": result.ok, "storage": storage}


def serve_metrics(app: FastAPI, conf: cfg.ConfigOpts) -> Listener | None:
    """Serve ``app``'s /metrics (and probes) on ``[metrics] api_listen``; None when unset."""
    address = parse_listen(conf.metrics.api_listen, "[metrics] api_listen")
    if address is None:
        return None
    wsgi = application(app.state.metrics_registry, lambda: readiness(app))
    listener = Listener(address, wsgi, "[metrics] api_listen")
    listener.start()
    return listener
