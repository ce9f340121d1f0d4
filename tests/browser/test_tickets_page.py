"""The tickets page in a real browser: Debian's headless Chromium via selenium.

The API runs under uvicorn in a thread on a free loopback port, over a memory
store seeded with three tickets. The browser loads the page, filters it and
solves a ticket with the Solve button; a screenshot of the page is saved under
``test-artifacts/``. Without Chromium and its driver the test skips locally
and fails under CI (``.ci/run`` installs them).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from pipeline import storage
from pipeline.api import create_app
from pipeline.models import UTC
from tests import servers
from tests.functional.api.conftest import make_conf, ticket_records

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--window-size=1280,640")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The page served by uvicorn on a free port, until the module is done."""
    conn = storage.get_connection("memory://")
    conn.record_tickets(ticket_records(dt.datetime.now(UTC)))  # type: ignore[attr-defined]
    port = servers.free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(make_conf("noauth"), conn),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium driven through chromedriver; nothing is downloaded."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            servers.unavailable("Chromium", f"{path} missing (apt-get install chromium "
                                "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def rows(driver: object) -> list[tuple[str, str]]:
    """(app, status) of every ticket row shown."""
    from selenium.webdriver.common.by import By

    found = []
    for row in driver.find_elements(By.CSS_SELECTOR, "tr.ticket"):  # type: ignore[attr-defined]
        where = row.find_element(By.CSS_SELECTOR, ".where").text
        found.append((where.split(" · ")[0], row.find_element(By.CSS_SELECTOR, ".status").text))
    return found


def click_and_wait(driver: object, element: object) -> None:
    """Click, then wait until the page the click left is gone (a new one loaded)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = driver.find_element(By.TAG_NAME, "html")  # type: ignore[attr-defined]
    element.click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(old_page))
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def test_page_loads_filters_and_solves(base_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get(base_url + "/")  # type: ignore[attr-defined]
    assert rows(driver) == [("nova", "open"), ("web", "open"), ("glance", "open")]
    assert "Instance failed to spawn again" in driver.page_source  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "tickets-page.png"))  # type: ignore[attr-defined]

    form = driver.find_element(By.ID, "filters")  # type: ignore[attr-defined]
    Select(form.find_element(By.NAME, "level")).select_by_value("error")
    click_and_wait(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert rows(driver) == [("nova", "open"), ("web", "open")]
    assert "level=error" in driver.current_url  # type: ignore[attr-defined]

    web_row = driver.find_elements(By.CSS_SELECTOR, "tr.ticket")[1]  # type: ignore[attr-defined]
    click_and_wait(driver, web_row.find_element(By.CSS_SELECTOR, "button.solve"))
    assert rows(driver) == [("nova", "open"), ("web", "solved")]
    assert "level=error" in driver.current_url  # type: ignore[attr-defined]  # back where it was

    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "a.message"))  # type: ignore[attr-defined]
    assert "RuntimeError: no valid host" in driver.find_element(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, "pre code").text
    assert driver.save_screenshot(str(ARTIFACTS / "ticket-detail.png"))  # type: ignore[attr-defined]
