"""Broker connections as oslo.messaging would make them from the same settings.

Operators copy ``transport_url`` and ``[oslo_messaging_rabbit]`` from a
service's configuration file, so both are read with oslo.messaging's
meanings:

* ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost`` (oslo's form:
  scheme ``rabbit``, comma-separated hosts of one cluster) becomes kombu's
  ``amqp://...;amqp://...`` fail-over list; kombu's own forms pass unchanged;
* ``heartbeat_timeout_threshold`` is the AMQP heartbeat (0 disables it);
* ``ssl`` and the ``ssl_*`` files give a TLS connection; an ``amqps://`` URL
  always uses TLS.

On AMQP transports the connection uses publisher confirms (dead letters are
acknowledged away only once the broker confirmed them) and carries a
connection name so ``rabbitmqctl list_connections`` shows who it is.
"""

from __future__ import annotations

import os
import ssl as ssl_module
from typing import Any
from urllib.parse import urlsplit

import kombu
import kombu.exceptions
from oslo_config import cfg

from pipeline.consume import topology
from pipeline.consume.declaring import Survey, ensure_topology
from pipeline.exceptions import ConfigError

_OSLO_SCHEMES = {"rabbit": "amqp", "kombu": "amqp"}


def kombu_url(url: str) -> str:
    """``url`` in kombu's form: oslo's ``rabbit://`` and host lists translated."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _OSLO_SCHEMES:
        return url
    scheme = _OSLO_SCHEMES[scheme]
    netloc, slash, tail = rest.partition("/")
    hosts = netloc.split(",")
    if len(hosts) == 1:
        return f"{scheme}://{rest}"
    # oslo lets hosts after the first omit the credentials: they share them.
    credentials = hosts[0].rpartition("@")[0]
    urls = []
    for host in hosts:
        if "@" not in host and credentials:
            host = f"{credentials}@{host}"
        urls.append(f"{scheme}://{host}{slash}{tail}")
    return ";".join(urls)


def ssl_options(conf: cfg.ConfigOpts, url: str) -> dict[str, Any] | bool:
    """kombu's ``ssl`` argument for ``[oslo_messaging_rabbit]`` (False: plain)."""
    rabbit = conf.oslo_messaging_rabbit
    if not rabbit.ssl and urlsplit(url.split(";")[0]).scheme != "amqps":
        return False
    options: dict[str, Any] = {}
    if rabbit.ssl_ca_file:
        options["ca_certs"] = rabbit.ssl_ca_file
        options["cert_reqs"] = ssl_module.CERT_REQUIRED
    if rabbit.ssl_cert_file:
        options["certfile"] = rabbit.ssl_cert_file
    if rabbit.ssl_key_file:
        options["keyfile"] = rabbit.ssl_key_file
    if rabbit.ssl_version:
        version = getattr(ssl_module, f"PROTOCOL_{rabbit.ssl_version}", None)
        if version is None:
            raise ConfigError(
                f"[oslo_messaging_rabbit] ssl_version {rabbit.ssl_version!r} is not "
                "known to this Python (try TLSv1_2)"
            )
        options["ssl_version"] = version
    return options or True


def broker_connection(conf: cfg.ConfigOpts, url: str | None = None) -> kombu.Connection:
    """A kombu connection to ``url`` (default ``[DEFAULT] transport_url``)."""
    url = kombu_url(url or conf.transport_url)
    conn = kombu.Connection(
        url,
        heartbeat=conf.oslo_messaging_rabbit.heartbeat_timeout_threshold,
        ssl=ssl_options(conf, url),
    )
    if conn.transport.driver_type == "amqp":
        conn.transport_options = {
            **(conn.transport_options or {}),
            "confirm_publish": True,
            "client_properties": {"connection_name": f"pipeline-consume pid {os.getpid()}"},
        }
    return conn


class BrokerUnreachable(Exception):
    """A broker could not be reached (or refused the look) within the time given."""


def look(conf: cfg.ConfigOpts, feed: topology.Feed, timeout: float) -> Survey:
    """Survey ``feed``'s broker passively: nothing is declared.

    Raises :class:`BrokerUnreachable` naming the broker (password masked)
    when it cannot be reached within ``timeout`` seconds.
    """
    conn = broker_connection(conf, feed.url)
    try:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        return ensure_topology(conn, conf, feed, declare=False)
    except (
        kombu.exceptions.KombuError,
        *conn.connection_errors,
        *conn.channel_errors,
        OSError,
    ) as err:
        raise BrokerUnreachable(f"broker {conn.as_uri()}: {err}") from err
    finally:
        conn.release()
