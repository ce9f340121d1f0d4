"""``pipeline api``: serve the REST API and the tickets page with uvicorn.

The application is :func:`pipeline.api.create_app`; to run it under another
ASGI server, build it the same way (see README.rst, *Reading the data*).
"""

from __future__ import annotations

import argparse
import logging

from oslo_config import cfg

from pipeline.exceptions import MissingExtra

LOG = logging.getLogger(__name__)


def serve(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Run the API until interrupted, on ``[api] host``/``port`` unless overridden.

    ConfigError (exit status 2) for noauth on a non-loopback address.
    """
    if args.host:  # create_app checks the address actually served
        conf.set_override("host", args.host, group="api")
    host = conf.api.host
    port = args.port or conf.api.port
    try:
        import uvicorn

        from pipeline.api import create_app
        from pipeline.api.monitoring import serve_metrics

        app = create_app(conf)
    except ImportError as err:
        raise MissingExtra(err.name or "fastapi", "api") from err
    # Bound before the API, so a port in use stops start-up at once.
    metrics = serve_metrics(app, conf)
    LOG.info("serving the API and the tickets page on http://%s:%d/", host, port)
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=args.access_log)
    finally:
        if metrics is not None:
            metrics.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``api``."""
    parser = subparsers.add_parser(
        "api",
        help="serve the REST API and the tickets page",
        description="Serve the Panko v2 compatible event API, the ticket API "
        "and the tickets page over HTTP ([api] options).",
    )
    parser.add_argument("--host", help="listen address (default [api] host)")
    parser.add_argument("--port", type=int, help="listen port (default [api] port)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(func=serve)
