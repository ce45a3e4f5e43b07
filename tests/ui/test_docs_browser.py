"""/docs in headless Chromium, behind a path prefix: Swagger UI renders the API's operations
from the package's files, loads nothing from elsewhere, and breaks none of the page's policy."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.ui import support

pytestmark = pytest.mark.browser

Serve = Callable[..., AbstractContextManager[str]]
# Recorded from before the page's first script runs, so a refused script or style is seen too.
RECORD_VIOLATIONS = (
    "window.cspViolations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def test_swagger_ui_renders_the_operations_from_the_package(browser: WebDriver, serve: Serve) -> None:
    recorder = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    try:
        with serve() as base:
            browser.get(f"{base}/docs")

            def paths(driver: WebDriver) -> set[str]:
                found = driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
                return {element.get_attribute("data-path") or element.text for element in found}

            WebDriverWait(browser, 10, poll_frequency=0.05).until(lambda d: {"/tasks", "/readyz"} <= paths(d))
            assert browser.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("dtq")
            assert support.foreign_requests(browser) == []
            assert browser.execute_script("return window.cspViolations") == []
            support.screenshot(browser, "docs")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": recorder["identifier"]})
