"""A small HTTP listener for ``/metrics``, ``/healthz`` and ``/readyz``.

Standard library WSGI server, one thread per request, serving from a daemon
thread so it never holds the process up. ``/metrics`` is
prometheus_client's own WSGI application (text or OpenMetrics format as the
scraper asks, gzip when accepted); ``/healthz`` answers 200 while the
process runs; ``/readyz`` answers 200 or 503 with a JSON account of its
checks. No authentication: bind it to an address only the monitoring can
reach (the default is loopback).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from pipeline.exceptions import ConfigError

LOG = logging.getLogger(__name__)
_LISTEN = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})")
#: ``readiness()`` returns the verdict and a JSON-able account.
Readiness = Callable[[], tuple[bool, dict[str, Any]]]
StartResponse = Callable[..., Any]


def parse_listen(text: str, option: str = "[metrics] listen") -> tuple[str, int] | None:
    """``host:port`` (``[v6addr]:port``) as a pair; None for an empty value (off)."""
    text = text.strip()
    if not text:
        return None
    match = _LISTEN.fullmatch(text)
    if match is None or int(match.group("port")) > 65535:
        raise ConfigError(
            f"{option} = {text!r}: expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464"
        )
    return match.group("v6") or match.group("host") or "", int(match.group("port"))


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s " + format, self.address_string(), *args)


def application(registry: CollectorRegistry, readiness: Readiness | None) -> Callable[..., Any]:
    """The WSGI application: /metrics from ``registry``, /healthz, /readyz."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _json(start_response, 200, {"alive": True, "pid": os.getpid()})
        if path == "/readyz" and readiness is not None:
            ready, body = readiness()
            return _json(start_response, 200 if ready else 503, body)
        return _json(start_response, 404, {"error": f"no such page: {path}"})

    return app


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    text = json.dumps(body, sort_keys=True).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(text)))],
    )
    return [text]


class Listener:
    """The bound socket and its serving thread."""

    def __init__(self, address: tuple[str, int], app: Callable[..., Any], option: str) -> None:
        host, port = address
        try:
            family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
            server_class = type("Server", (_ThreadingServer,), {"address_family": family})
            self.server: WSGIServer = make_server(
                host, port, app, server_class=server_class, handler_class=_QuietHandler
            )
        except OSError as err:
            raise ConfigError(
                f"{option}: cannot listen on {host}:{port}: {err.strerror or err} "
                "(choose another port, or leave it empty to turn the listener off)"
            ) from err
        self.address: tuple[str, int] = tuple(self.server.server_address[:2])  # type: ignore[assignment]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="pipeline-metrics", daemon=True
        )

    def start(self) -> None:
        """Serve from a daemon thread."""
        self._thread.start()
        LOG.info("serving /metrics, /healthz and /readyz on http://%s:%s/", *self.address)

    def forget(self) -> None:
        """Close this process's copy of the socket (in a forked child; the parent serves)."""
        self.server.socket.close()

    def close(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
