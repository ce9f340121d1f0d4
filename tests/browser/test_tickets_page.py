"""The tickets page in a real browser: Debian's headless Chromium via selenium.

The API runs under uvicorn in a thread on a free loopback port, over a memory
store seeded with three tickets. The browser loads the page, filters it and
solves a ticket with the Solve button; a screenshot of the page is saved under
``test-artifacts/``. Without Chromium and its driver the test skips locally
and fails under CI (``.ci/run`` installs them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from pipeline import storage
from pipeline.api import create_app
from pipeline.models import UTC
from tests.browser.conftest import ARTIFACTS, click_and_wait, rows
from tests.functional.api.conftest import make_conf, served, ticket_records


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The page served by uvicorn on a free port, until the module is done."""
    conn = storage.get_connection("memory://")
    conn.record_tickets(ticket_records(dt.datetime.now(UTC)))  # type: ignore[attr-defined]
    with served(create_app(make_conf("noauth"), conn)) as url:
        yield url


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
