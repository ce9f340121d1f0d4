"""auth_strategy = basic: an htpasswd file of bcrypt hashes, for the API and the page."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from fastapi.testclient import TestClient

from pipeline.api import create_app
from pipeline.api.sessions import COOKIE
from pipeline.exceptions import ConfigError
from pipeline.storage import Connection
from tests.functional.api.conftest import csrf_token, make_conf, page_post

PASSWORD = "correct horse battery staple"


def bcrypt_line(user: str, password: str, prefix: str = "$2b$") -> str:
    """A line as ``htpasswd -B`` writes it (it says $2y$; bcrypt says $2b$)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{user}:{prefix}{hashed[4:]}"


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text(f"# ops\n{bcrypt_line('alice', PASSWORD, '$2y$')}\n\n"
                    f"{bcrypt_line('bob', 'bobs password')}\n")
    return path


@pytest.fixture
def basic(memory_conn: Connection, htpasswd: Path) -> Iterator[TestClient]:
    conf = make_conf("basic", htpasswd_file=str(htpasswd))
    with TestClient(create_app(conf, memory_conn)) as client:
        yield client


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def apps(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["app_id"] for t in response.json()["tickets"]]


def test_right_password_reads_tickets_and_events(basic: TestClient) -> None:
    for user, password in (("alice", PASSWORD), ("bob", "bobs password")):
        assert apps(basic.get("/v1/tickets", headers=basic_auth(user, password))) == [
            "nova", "web", "glance"]
    events = basic.get("/v2/events", headers=basic_auth("alice", PASSWORD))
    assert [e["message_id"] for e in events.json()] == ["e1", "e2", "e3", "e4", "e5"]


@pytest.mark.parametrize("headers", [
    {}, basic_auth("alice", "wrong"), basic_auth("alice", PASSWORD[:-1]),
    basic_auth("mallory", PASSWORD), basic_auth("", PASSWORD),
    {"Authorization": "Basic not-base64!"}, {"Authorization": "Bearer x"},
    {"X-User-Id": "alice", "X-Roles": "admin"},
], ids=["none", "wrong", "prefix", "unknown-user", "no-user", "malformed", "bearer",
        "spoofed"])
def test_wrong_credentials_get_401_without_a_browser_prompt(
    basic: TestClient, headers: dict[str, str]
) -> None:
    response = basic.get("/v1/tickets", headers=headers)
    assert response.status_code == 401
    assert "www-authenticate" not in response.headers
    assert "nova" not in response.text
    assert basic.post("/v1/tickets/1/solve", headers=headers).status_code == 401


def test_a_user_removed_from_the_file_is_refused_at_once(basic: TestClient,
                                                         htpasswd: Path) -> None:
    assert basic.get("/v1/tickets", headers=basic_auth("bob", "bobs password")).status_code == 200
    htpasswd.write_text(bcrypt_line("alice", PASSWORD) + "\n")
    assert basic.get("/v1/tickets", headers=basic_auth("bob", "bobs password")).status_code == 401


def sign_in(client: TestClient, user: str, password: str) -> httpx.Response:
    token = csrf_token(client.get("/login").text)
    return client.post("/login", params={"next": "/tickets?app=web"}, follow_redirects=False,
                       data={"csrf_token": token, "username": user, "password": password})


def test_the_page_signs_in_solves_and_signs_out(basic: TestClient) -> None:
    assert basic.get("/tickets", follow_redirects=False).headers["location"] == (
        "/login?next=%2Ftickets")
    form = basic.get("/login").text
    assert 'name="username"' in form and 'name="password"' in form and 'name="project"' not in form
    refused = sign_in(basic, "alice", "wrong")
    assert refused.status_code == 401 and "Invalid user name or password" in refused.text
    signed_in = sign_in(basic, "alice", PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/tickets?app=web"
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP here; see test_page_security for HTTPS
    page = basic.get("/tickets")
    assert page.status_code == 200 and '<span class="who" id="who">alice</span>' in page.text
    web = page.text.split('data-ticket-id="')[2].split('"')[0]  # nova, web, glance
    assert page_post(basic, f"/tickets/{web}/solve", follow_redirects=False).status_code == 303
    assert basic.get(f"/v1/tickets/{web}", headers=basic_auth("bob", "bobs password")).json()[
        "status"] == "solved"
    session = basic.cookies.get(COOKIE)
    assert page_post(basic, "/logout", follow_redirects=False).headers["location"] == "/login"
    assert basic.get("/tickets", follow_redirects=False).status_code == 303
    basic.cookies.set(COOKIE, session)  # a copy of the cookie kept from before
    assert basic.get("/tickets", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_not_an_api_credential(basic: TestClient) -> None:
    assert sign_in(basic, "alice", PASSWORD).status_code == 303
    assert basic.get("/tickets").status_code == 200
    assert basic.get("/v1/tickets").status_code == 401


@pytest.mark.parametrize(("content", "message"), [
    ("alice:$apr1$abc$def\n", "alice"),
    ("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "htpasswd -B"),
    ("just-a-name\n", "not a user:hash line"),
])
def test_an_htpasswd_file_without_bcrypt_refuses_to_start(
    tmp_path: Path, memory_conn: Connection, content: str, message: str
) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        create_app(make_conf("basic", htpasswd_file=str(path)), memory_conn)


def test_basic_needs_its_file(memory_conn: Connection, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="htpasswd_file"):
        create_app(make_conf("basic"), memory_conn)
    with pytest.raises(ConfigError, match="missing"):
        create_app(make_conf("basic", htpasswd_file=str(tmp_path / "missing")), memory_conn)


def test_a_post_without_a_session_signs_in_then_shows_the_tickets(basic: TestClient) -> None:
    refused = basic.post("/tickets/1/solve", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/login?next=%2Ftickets"
