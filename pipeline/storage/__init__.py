"""Storage: pick a driver by URL scheme, check its capabilities, connect.

Drivers are entry points in the ``pipeline.storage`` group named after the
URL scheme (``sqlite``, ``postgresql``, ``mysql``, ``mariadb``, ``mongodb``,
``memory``); a ``+dialect`` suffix (``postgresql+psycopg``) is ignored when
choosing. Third-party packages add schemes by declaring entry points.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, cast

from oslo_config import cfg
from stevedore import driver, extension
from stevedore.exception import NoMatches

from pipeline.exceptions import MissingCapability, StorageUnavailable, UnknownDriver
from pipeline.storage.base import Connection, RecordResult, SchemaState, dress_url
from pipeline.storage.capabilities import Capability
from pipeline.storage.query import EventFilter

__all__ = [
    "Capability",
    "Connection",
    "EventFilter",
    "RecordResult",
    "SchemaState",
    "dress_url",
    "get_connection",
    "get_connection_from_config",
    "installed_drivers",
    "load_driver",
    "url_scheme",
]

NAMESPACE = "pipeline.storage"
LOG = logging.getLogger(__name__)


def url_scheme(url: str) -> str:
    """The driver name of ``url``: its scheme without a ``+dialect`` suffix."""
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise UnknownDriver(f"storage URL {dress_url(url)!r} has no scheme")
    return scheme.split("+", 1)[0].lower()


def installed_drivers() -> list[str]:
    """Names of every storage driver entry point installed."""
    return sorted(extension.ExtensionManager(NAMESPACE).entry_points_names())


def load_driver(scheme: str) -> type[Connection]:
    """The driver class of the entry point ``scheme``, not instantiated.

    The one place drivers are loaded (connecting, ``pipeline config check``).
    Raises :class:`UnknownDriver` naming the installed drivers when none
    serves ``scheme``, and the driver's own import error unchanged (a
    :class:`~pipeline.exceptions.MissingExtra` naming the extra to install).
    """

    def reraise(_manager: object, _entrypoint: object, err: BaseException) -> None:
        raise err

    try:
        manager: driver.DriverManager[Any] = driver.DriverManager(
            NAMESPACE,
            scheme,
            invoke_on_load=False,
            on_load_failure_callback=reraise,  # type: ignore[arg-type]
        )
    except NoMatches:
        raise UnknownDriver(
            f"no storage driver for scheme {scheme!r}; installed: "
            f"{', '.join(installed_drivers()) or 'none'}"
        ) from None
    return cast(type[Connection], manager.driver)


def get_connection(
    url: str,
    conf: cfg.ConfigOpts | None = None,
    require: Iterable[Capability] = (),
    **options: Any,
) -> Connection:
    """Load the driver for ``url``, check ``require``d capabilities, connect.

    ``options`` are the driver's own keyword options (its docstring lists
    them; e.g. the SQLAlchemy driver's ``table_prefix``). Connecting is
    retried ``[database] max_retries`` times every ``[database]
    retry_interval`` seconds when the storage is unavailable (once when
    ``conf`` is None).
    """
    driver_class = load_driver(url_scheme(url))
    missing = [cap for cap in require if cap not in driver_class.capabilities]
    if missing:
        raise MissingCapability(
            f"storage driver {url_scheme(url)!r} lacks "
            f"{', '.join(cap.value for cap in missing)}; it offers "
            f"{', '.join(sorted(c.value for c in driver_class.capabilities)) or 'nothing'}"
        )
    retries = conf.database.max_retries if conf is not None else 0
    interval = conf.database.retry_interval if conf is not None else 0.0
    attempt = 0
    while True:
        try:
            return driver_class(url, conf, **options)
        except StorageUnavailable as err:
            attempt += 1
            if retries >= 0 and attempt > retries:
                raise
            LOG.warning(
                "storage %s unavailable (%s); retry %d in %.1fs",
                dress_url(url),
                err,
                attempt,
                interval,
            )
            time.sleep(interval)


def get_connection_from_config(
    conf: cfg.ConfigOpts, require: Iterable[Capability] = ()
) -> Connection:
    """:func:`get_connection` for ``[database] connection``."""
    return get_connection(conf.database.connection, conf, require)
