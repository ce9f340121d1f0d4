"""Signing in to the tickets page with Keystone, in headless Chromium.

The page runs under uvicorn with auth_strategy = keystone against the
session's real Keystone. A person signs in with user, password, project and
domain, sees the tickets and solves one; tickets whose messages are markup
run nothing; a form posted from another page of the same site without the
CSRF token is refused; signing out ends the session, even for a copy of the
cookie, and revokes the token in Keystone.
"""

from __future__ import annotations

import datetime as dt
import html
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline import storage
from pipeline.api import create_app
from pipeline.api.sessions import COOKIE, SessionCodec
from pipeline.models import UTC, TicketRecord, TicketStatus
from pipeline.storage import Connection
from tests import servers
from tests.browser.conftest import ARTIFACTS, click_and_wait, rows
from tests.functional.api.conftest import served, ticket_records
from tests.keystone_server import KeystoneWorld

SECRET = "browser-test-session-secret"
TITLE = "Tickets · pipeline"
XSS = ["<script>document.title='pwned'</script>",
       "<img src=x onerror=\"document.title='pwned'\">"]


@pytest.fixture(scope="module")
def store() -> Connection:
    """Three tickets, and two whose messages are markup (app ``evil``)."""
    conn = storage.get_connection("memory://")
    now = dt.datetime.now(UTC)
    conn.record_tickets(ticket_records(now) + [  # type: ignore[attr-defined]
        TicketRecord(f"{n:040x}", "evil", now - dt.timedelta(days=1), 14, "evil", f"e.py:{n}",
                     "evil", {"message": message, "formatted_exception": message})
        for n, message in enumerate(XSS)
    ])
    return conn


@pytest.fixture(scope="module")
def base_url(store: Connection, keystone_world: KeystoneWorld,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    conf = keystone_world.conf(tmp_path_factory.mktemp("page"), cache_time=1,
                               session_secret=SECRET)
    with served(create_app(conf, store)) as url:
        yield url


def nova(store: Connection) -> Any:
    return store.get_tickets("-last_occurrence_time", 10, 0, app_id="nova")[0]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def attacker(base_url: str, store: Connection) -> Iterator[str]:
    """Another page of the same site (another port) posting a Solve form for nova's ticket."""
    target = f"{base_url}/tickets/{nova(store).ticket_id}/solve"
    page = (f'<form method="post" action="{html.escape(target)}">'
            '<button id="forged" type="submit">Win a prize</button></form>').encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", servers.free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(10)


def sign_in(driver: Any, world: KeystoneWorld, password: str | None = None) -> None:
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.ID, "login")
    form.find_element(By.NAME, "username").send_keys(world.name("admin-user"))
    form.find_element(By.NAME, "password").send_keys(password or world.password("admin-user"))
    form.find_element(By.NAME, "project").send_keys(world.name("p1"))
    assert form.find_element(By.NAME, "domain").get_attribute("value") == "Default"
    click_and_wait(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def test_sign_in_see_solve_and_sign_out(base_url: str, browser: Any, attacker: str,
                                        store: Connection, keystone_world: KeystoneWorld) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(base_url + "/tickets?app=web")
    assert driver.current_url == base_url + "/login?next=%2Ftickets%3Fapp%3Dweb"
    sign_in(driver, keystone_world, "wrong password")
    assert "Keystone refused these credentials" in driver.find_element(By.ID, "error").text
    sign_in(driver, keystone_world)
    assert driver.current_url == base_url + "/tickets?app=web"
    assert rows(driver) == [("web", "open")]
    assert driver.find_element(By.ID, "who").text == keystone_world.name("admin-user")
    cookie = driver.get_cookie(COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]

    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button.solve"))
    assert rows(driver) == [("web", "solved")]
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "tickets-signed-in.png"))

    # Another page of the same site posts a Solve form: the cookie goes along, no token.
    assert nova(store).status is TicketStatus.OPEN
    driver.get(attacker)
    click_and_wait(driver, driver.find_element(By.ID, "forged"))
    assert "CSRF token is missing or wrong" in driver.find_element(By.ID, "error").text
    assert nova(store).status is TicketStatus.OPEN

    kept = driver.get_cookie(COOKIE)["value"]
    driver.get(base_url + "/tickets")
    click_and_wait(driver, driver.find_element(By.ID, "sign-out"))
    assert driver.current_url == base_url + "/login"
    assert driver.get_cookie(COOKIE) is None
    driver.get(base_url + "/tickets")
    assert driver.current_url.startswith(base_url + "/login?next=")
    driver.add_cookie({"name": COOKIE, "value": kept, "path": "/"})  # a stolen copy
    driver.get(base_url + "/tickets")
    assert driver.current_url.startswith(base_url + "/login?next=")
    token = SessionCodec(SECRET, 3600).decode(kept)
    assert token is not None and token.token
    assert not keystone_world.keystone.is_valid(token.token)  # revoked at sign-out


def test_markup_in_messages_runs_nothing(base_url: str, browser: Any,
                                         keystone_world: KeystoneWorld) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(base_url + "/tickets?app=evil")
    if "/login" in driver.current_url:
        sign_in(driver, keystone_world)
    shown = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "a.message")]
    assert sorted(shown) == sorted(XSS)
    assert driver.title == TITLE and not driver.find_elements(By.CSS_SELECTOR, "main img")
    for number in range(len(XSS)):
        click_and_wait(driver, driver.find_elements(By.CSS_SELECTOR, "a.message")[number])
        assert driver.find_element(By.CSS_SELECTOR, "pre code").text in XSS
        assert driver.title.startswith("Ticket ") and "pwned" not in driver.title
        assert not driver.find_elements(By.CSS_SELECTOR, "main img")
        driver.back()

