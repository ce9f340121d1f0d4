"""The page's defences: headers, CSRF tokens, escaping, cookies over HTTPS, noauth's address."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from pipeline import storage
from pipeline.api import create_app
from pipeline.api.csrf import COOKIE as CSRF_COOKIE
from pipeline.exceptions import ConfigError
from pipeline.models import UTC, TicketRecord
from pipeline.storage import Connection
from tests.functional.api.conftest import csrf_token, make_conf, page_post, serve

XSS = ["<script>document.title='pwned'</script>", "<img src=x onerror=\"document.title='x'\">"]


@pytest.fixture
def page(memory_conn: Connection) -> Iterator[TestClient]:
    with serve(memory_conn) as client:
        yield client


def ticket_id(client: TestClient, app: str) -> int:
    found = re.search(r'data-ticket-id="(\d+)"', client.get("/tickets", params={"app": app}).text)
    assert found is not None
    return int(found.group(1))


@pytest.mark.parametrize("path", ["/tickets", "/login", "/v2/events", "/v1/tickets",
                                  "/tickets/424242", "/static/style.css"])
def test_every_answer_carries_the_security_headers(page: TestClient, path: str) -> None:
    headers = page.get(path).headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
    assert "'unsafe-inline'" not in policy


def test_pages_are_never_cached(page: TestClient) -> None:
    assert page.get("/tickets").headers["cache-control"] == "no-store"
    assert page.get("/v1/tickets").headers["cache-control"] == "no-store"


@pytest.mark.parametrize("forged", [
    {}, {"csrf_token": ""}, {"csrf_token": "0" * 64}, {"csrf_token": "from-another-browser"},
], ids=["missing", "empty", "zeros", "other"])
def test_a_solve_without_the_right_csrf_token_is_refused(
    page: TestClient, forged: dict[str, str]
) -> None:
    web = ticket_id(page, "web")
    if forged.get("csrf_token") == "from-another-browser":
        with TestClient(page.app) as other:
            forged = {"csrf_token": csrf_token(other.get("/tickets").text)}
    response = page.post(f"/tickets/{web}/solve", data=forged, follow_redirects=False)
    assert response.status_code == 403 and "CSRF" in response.text
    assert "solved" not in page.get(f"/tickets/{web}").text.split('id="status">')[1][:10]
    assert page_post(page, f"/tickets/{web}/solve", follow_redirects=False).status_code == 303


def test_a_csrf_token_needs_its_own_cookie(page: TestClient) -> None:
    web = ticket_id(page, "web")
    token = csrf_token(page.get("/tickets").text)
    page.cookies.delete(CSRF_COOKIE)
    response = page.post(f"/tickets/{web}/solve", data={"csrf_token": token})
    assert response.status_code == 403


def test_markup_in_a_log_message_is_shown_as_text(memory_conn: Connection) -> None:
    now = dt.datetime.now(UTC)
    memory_conn.record_tickets([  # type: ignore[attr-defined]
        TicketRecord(f"{n:040x}", "evil", now, 14, "evil.chan", f"x.py:{n}", "evil",
                     {"message": message, "formatted_exception": message})
        for n, message in enumerate(XSS)
    ])
    with serve(memory_conn) as client:
        listing = client.get("/tickets", params={"app": "evil"}).text
        details = "".join(client.get(f"/tickets/{number}").text
                          for number in re.findall(r'data-ticket-id="(\d+)"', listing))
    for html in (listing, details):
        assert "<script>document" not in html and "<img src=x" not in html
        assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=" in html


def test_cookies_are_secure_over_https(memory_conn: Connection) -> None:
    with TestClient(create_app(make_conf(), memory_conn), base_url="https://testserver") as tls:
        cookie = tls.get("/tickets").headers["set-cookie"]
    assert cookie.startswith(CSRF_COOKIE) and "Secure" in cookie and "HttpOnly" in cookie
    with TestClient(create_app(make_conf(), memory_conn)) as plain:
        assert "Secure" not in plain.get("/tickets").headers["set-cookie"]


def test_the_json_api_sets_no_cookie(page: TestClient) -> None:
    assert "set-cookie" not in page.get("/v2/events").headers


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.invalid"])
def test_noauth_refuses_a_non_loopback_address(host: str) -> None:
    conn = storage.get_connection("memory://")
    with pytest.raises(ConfigError, match="allow_noauth_on_any_address") as refused:
        create_app(make_conf("noauth", host=host), conn)
    assert host in str(refused.value)
    assert create_app(make_conf("noauth", host=host, allow_noauth_on_any_address=True), conn)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost"])
def test_noauth_serves_on_loopback(host: str) -> None:
    assert create_app(make_conf("noauth", host=host), storage.get_connection("memory://"))


def test_pipeline_api_refuses_noauth_on_any_address(tmp_path: Path) -> None:
    conf = tmp_path / "api.conf"
    conf.write_text("[database]\nconnection = memory://\n[api]\nauth_strategy = noauth\n")
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())",
         "--config-file", str(conf), "api", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "allow_noauth_on_any_address" in done.stderr and "0.0.0.0" in done.stderr


def test_no_route_ever_sees_a_client_identity_header(memory_conn: Connection) -> None:
    app = create_app(make_conf(), memory_conn)

    @app.get("/v2/echo-headers")
    def echo(request: Request) -> dict[str, str]:
        return dict(request.headers)

    sent = {"X-User-Id": "u", "X-Project-Id": "p", "X-Roles": "admin", "X-Tenant-Id": "t",
            "X-Identity-Status": "Confirmed", "X-Service-Roles": "service",
            "X-Is-Admin-Project": "True", "OpenStack-System-Scope": "all", "X-Other": "kept"}
    with TestClient(app) as client:
        seen = client.get("/v2/echo-headers", headers=sent).json()
    assert seen["x-other"] == "kept"
    assert not {name.lower() for name in sent if name != "X-Other"} & set(seen)
