"""The API's /metrics, /healthz and /readyz: no credentials, route templates, real PostgreSQL.

The probes and the metrics answer without credentials under an
authenticating strategy (``basic`` here: the same gate as Keystone's);
requests are counted by route *template*;
``/readyz`` turns 503 while PostgreSQL refuses connections and 200 again
after; ``[metrics] api_listen`` moves ``/metrics`` off the API port.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from pipeline import __version__, storage
from pipeline.api import create_app
from pipeline.api.monitoring import serve_metrics
from pipeline.storage import Connection
from tests import servers
from tests.functional.api.conftest import make_conf
from tests.functional.api.test_basic_auth import basic_auth, bcrypt_line
from tests.functional.consume.scraping import parse, value


@pytest.fixture
def authenticating(tmp_path: Path) -> cfg.ConfigOpts:
    """An API configuration that wants credentials (basic, one user)."""
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(bcrypt_line("alice", "secret") + "\n")
    return make_conf("basic", htpasswd_file=str(htpasswd))


@pytest.fixture
def pg_conn() -> Iterator[Connection]:
    with servers.postgresql_database() as url:
        conn = storage.get_connection(url)
        conn.upgrade()
        try:
            yield conn
        finally:
            conn.close()


def test_probes_and_metrics_need_no_credentials_and_count_route_templates(
    pg_conn: Connection, authenticating: cfg.ConfigOpts,
) -> None:
    with TestClient(create_app(authenticating, pg_conn)) as client:
        assert client.get("/v2/events").status_code == 401, "the API itself wants a caller"
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["storage"]["ok"] is True
        alice = basic_auth("alice", "secret")
        for message_id in ("one", "two", "three"):
            assert client.get(f"/v2/events/{message_id}", headers=alice).status_code == 404
        assert client.get("/v2/events", headers=alice).status_code == 200
        client.get("/no/such/page", headers=alice)
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples = parse(response.text)
    requests = "pipeline_api_requests_total"
    assert value(samples, requests, route="/v2/events/{message_id}", method="GET",
                 status="404") == 3
    assert value(samples, requests, route="/v2/events", method="GET", status="200") == 1
    assert value(samples, requests, route="<unmatched>", method="GET", status="404") == 1
    # Refused by the authentication gate before any routing.
    assert value(samples, requests, route="<unmatched>", method="GET", status="401") == 1
    assert not any("one" in dict(labels).get("route", "") for _, labels in samples)
    assert value(samples, "pipeline_api_request_seconds_count",
                 route="/v2/events/{message_id}", method="GET") == 3
    assert value(samples, "pipeline_build_info", version=__version__) == 1


def test_readyz_follows_postgresql_refusing_connections(pg_conn: Connection) -> None:
    with TestClient(create_app(make_conf("noauth"), pg_conn)) as client:
        assert client.get("/readyz").status_code == 200
        servers.allow_postgresql_connections(pg_conn.url, False)
        try:
            time.sleep(1.1)  # past the probe's reuse of a fresh result
            response = client.get("/readyz")
            assert response.status_code == 503, response.text
            assert response.json()["storage"]["ok"] is False
            assert client.get("/healthz").status_code == 200
        finally:
            servers.allow_postgresql_connections(pg_conn.url, True)
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again after PostgreSQL came back"
            time.sleep(0.5)


def test_api_listen_moves_metrics_off_the_api_port(
    pg_conn: Connection, authenticating: cfg.ConfigOpts
) -> None:
    port = servers.free_port()
    conf = authenticating
    conf.set_override("api_listen", f"127.0.0.1:{port}", "metrics")
    app = create_app(conf, pg_conn)
    listener = serve_metrics(app, conf)
    assert listener is not None
    try:
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 404
            assert client.get("/healthz").status_code == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as got:
                text = got.read().decode()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as got:
                assert got.status == 200
    finally:
        listener.close()
    samples = parse(text)
    assert value(samples, "pipeline_api_requests_total", route="/healthz", method="GET",
                 status="200") == 1
