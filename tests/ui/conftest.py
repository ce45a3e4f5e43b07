"""Headless Chromium for the dashboard tests: one browser per session; each test gets its own
API (its own port, so its own origin and sessionStorage) on its own key prefix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from dtq.settings import Settings
from tests.api.conftest import api, make_api
from tests.ui import support

__all__ = ["api", "browser", "make_api", "serve"]  # the API's ASGI fixtures, for test_router.py

ADMIN_TOKEN = "ui-admin-token-0123456789abcdef"
PRODUCER_TOKEN = "ui-producer-token-0123456789ab"
VIEWER_TOKEN = "ui-viewer-token-0123456789abcd"
TOKENS = f"{ADMIN_TOKEN}:admin,{PRODUCER_TOKEN}:producer,{VIEWER_TOKEN}:viewer"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Debian's Chromium, headless; the tests fail without it, as they do without redis-server."""
    if not support.chromium_installed():
        pytest.fail("Chromium is not installed: `make system-packages` (apt-get install chromium chromium-driver)")
    driver = support.make_driver(tmp_path_factory.mktemp("chromium"))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def serve(settings: Settings) -> Callable[..., AbstractContextManager[str]]:
    """Start this test's API (optionally with tokens); a context manager yielding its base URL."""

    def start(tokens: str | None = None) -> AbstractContextManager[str]:
        return support.serve_api(settings, tokens)

    return start
