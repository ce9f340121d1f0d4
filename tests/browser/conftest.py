"""Fixtures of the browser tests: Debian's headless Chromium through selenium.

Without Chromium and its driver the tests skip locally and fail under CI
(``.ci/run`` installs them); nothing ever downloads a browser or a driver.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--window-size=1280,640")


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


def _gone(element: object) -> bool:
    """True once ``element``'s page has been replaced.

    ChromeDriver says so with a stale-element error, or, when asked in the
    middle of the navigation, with an inspector error that the node "does
    not belong to the document".
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()  # type: ignore[attr-defined]
    except StaleElementReferenceException:
        return True
    except WebDriverException as err:
        if "does not belong to the document" in str(err):
            return True
        raise
    return False


def click_and_wait(driver: object, element: object) -> None:
    """Click, then wait until the page the click left is gone (a new one loaded)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = driver.find_element(By.TAG_NAME, "html")  # type: ignore[attr-defined]
    element.click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(lambda _: _gone(old_page))
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


