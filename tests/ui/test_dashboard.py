"""The dashboard end to end: headless Chromium against the real API (behind a path prefix) on a
real Redis. Each test saves a screenshot of the page it drove under tests/artifacts/ui/."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from dtq.settings import Settings
from tests.ui import support
from tests.ui.conftest import ADMIN_TOKEN, PRODUCER_TOKEN, TOKENS, VIEWER_TOKEN

pytestmark = pytest.mark.browser

Serve = Callable[..., AbstractContextManager[str]]
WAIT = 10  # seconds; the overview refreshes every 2 s


def wait(driver: WebDriver, seconds: float = WAIT) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, seconds, poll_frequency=0.05)


def find(driver: WebDriver, css: str) -> WebElement:
    return wait(driver).until(seen.visibility_of_element_located((By.CSS_SELECTOR, css)))


def text_is(css: str, expected: str) -> Callable[[WebDriver], bool]:
    def check(driver: WebDriver) -> bool:
        try:
            return driver.find_element(By.CSS_SELECTOR, css).text.strip() == expected
        except NoSuchElementException:
            return False

    return check


def click(driver: WebDriver, css: str) -> None:
    wait(driver).until(seen.element_to_be_clickable((By.CSS_SELECTOR, css))).click()


def confirm(driver: WebDriver) -> None:
    """Accept the open confirmation dialog."""
    click(driver, "dialog.confirm[open] button[value=confirm]")
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog.confirm"))


def cell(queue: str, column: str) -> str:
    return f'tr[data-key="{queue}"] td[data-col="{column}"]'


def test_overview_shows_queues_and_follows_new_tasks(browser: WebDriver, serve: Serve) -> None:
    with serve() as base, support.api_client(base) as api:
        support.enqueue(api, [{"task": "send_email", "queue": "emails", "priority": p} for p in (1, 5, 5)])
        support.enqueue(api, [{"task": "render", "queue": "reports", "delay": 600}])
        browser.get(f"{base}/ui/")
        wait(browser).until(text_is(cell("emails", "ready"), "3"))
        chips = browser.find_elements(By.CSS_SELECTOR, f"{cell('emails', 'priority')} .chip")
        assert [c.text for c in chips] == ["P5 2", "P1 1"]
        assert browser.find_element(By.CSS_SELECTOR, cell("reports", "scheduled")).text == "1"
        assert browser.find_element(By.CSS_SELECTOR, cell("emails", "status")).text == "running"
        assert support.rendered_ms(browser) is not None
        assert len(browser.find_elements(By.CSS_SELECTOR, ".chart canvas")) == 2  # uPlot drew both charts

        support.enqueue(api, [{"task": "send_email", "queue": "emails", "priority": 9}] * 5)
        wait(browser).until(text_is(cell("emails", "ready"), "8"))  # the live refresh, no reload
        wait(browser).until(text_is('[data-total="ready"]', "8"))
        assert support.foreign_requests(browser) == []
        support.screenshot(browser, "overview")
        browser.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        )
        try:
            assert (
                browser.execute_script("return getComputedStyle(document.body).backgroundColor") != "rgb(245, 246, 248)"
            )
            support.screenshot(browser, "overview-dark")
        finally:
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_queue_page_pauses_filters_and_cancels(browser: WebDriver, serve: Serve) -> None:
    with serve() as base, support.api_client(base) as api:
        ids = support.enqueue(api, [{"task": "resize", "queue": "images", "payload": {"n": n}, "priority": n % 2}
                                    for n in range(60)])  # fmt: skip
        support.enqueue(api, [{"task": "thumbnail", "queue": "images"}])
        browser.get(f"{base}/ui/")
        click(browser, f"{cell('images', 'name')} a")
        wait(browser).until(text_is('.tabs a[data-state="queued"] .count', "61"))

        click(browser, "[data-action=pause]")
        wait(browser).until(text_is(".title-row .badge", "paused"))
        assert api.get("/queues/images").json()["paused"] is True
        click(browser, "[data-action=resume]")
        wait(browser).until(text_is(".title-row .badge", "running"))
        assert api.get("/queues/images").json()["paused"] is False

        assert len(browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-id]")) == 50  # one page
        click(browser, ".pager button:last-child")
        wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-id]")) == 11)

        find(browser, "#filter-task").send_keys("thumbnail")
        click(browser, ".filters button[type=submit]")
        wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-id]")) == 1)
        browser.get(f"{base}/ui/#/queues/images?state=queued&priority=1")
        wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-id]")) == 30)

        target = ids[1]  # priority 1
        click(browser, f'tr[data-id="{target}"] td button.link')
        find(browser, f'dialog.record-dialog [data-task="{target}"]')
        assert '"n": 1' in find(browser, "dialog.record-dialog pre").text
        support.screenshot(browser, "task")
        click(browser, "dialog.record-dialog [data-action=cancel]")
        confirm(browser)
        wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog.record-dialog [data-action=cancel]"))
        assert api.get(f"/tasks/{target}").json()["state"] == "cancelled"
        click(browser, "dialog.record-dialog button[aria-label=Close]")
        wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-id="{target}"]'))
        support.screenshot(browser, "queue")


def test_dead_letters_redrive_one_by_clicking_then_purge(browser: WebDriver, serve: Serve, settings: Settings) -> None:
    with serve() as base, support.api_client(base) as api:
        ids = support.enqueue(api, [{"task": "charge_card", "queue": "billing", "payload": n, "max_retries": 0}
                                    for n in range(3)])  # fmt: skip
        support.run_burst(settings, ["billing"])
        assert api.get("/queues/billing").json()["dead"] == 3

        browser.get(f"{base}/ui/#/dead")
        row = find(browser, f'tr[data-id="{ids[0]}"]')
        assert "RuntimeError: card declined: 0" in row.text
        support.screenshot(browser, "dead")
        click(browser, f'tr[data-id="{ids[0]}"] [data-action=redrive]')
        confirm(browser)
        wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-id="{ids[0]}"]'))
        assert api.get(f"/tasks/{ids[0]}").json()["state"] == "queued"

        click(browser, f'tr[data-id="{ids[1]}"] td button.link')  # inspect: the traceback is there
        assert "RuntimeError" in find(browser, "dialog.record-dialog pre.error").text
        click(browser, "dialog.record-dialog button[aria-label=Close]")

        click(browser, "[data-action=purge-all]")
        click(browser, "dialog.confirm[open] button[value=cancel]")  # cancelling keeps them
        assert api.get("/queues/billing").json()["dead"] == 2
        click(browser, "[data-action=purge-all]")
        confirm(browser)
        find(browser, "tr.empty")
        assert api.get("/queues/billing").json()["dead"] == 0


def test_workers_and_scheduled_pages(browser: WebDriver, serve: Serve, settings: Settings) -> None:
    with serve() as base, support.api_client(base) as api, support.running_worker(settings, ["naps"]) as worker:
        support.enqueue(api, [{"task": "nap", "queue": "naps", "payload": 30}] * 2)
        support.enqueue(api, [{"task": "digest", "queue": "mail", "delay": d} for d in (900, 60, 300)])
        support.enqueue(api, [{"task": "report", "queue": "reports", "delay": 120}])
        browser.get(f"{base}/ui/#/workers")
        wait(browser).until(text_is(f'tr[data-key="{worker.id}"] td[data-col="in_flight"]', "2 / 4"))
        assert browser.find_element(By.CSS_SELECTOR, f'tr[data-key="{worker.id}"] td[data-col="queues"]').text == "naps"
        support.screenshot(browser, "workers")

        click(browser, 'nav.primary a[data-route="scheduled"]')
        wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-id]")) == 4)
        queues = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr td:nth-child(3)")]
        assert queues == ["mail", "reports", "mail", "mail"]  # due in 60, 120, 300, 900 s
        support.screenshot(browser, "scheduled")


def test_token_prompt_when_auth_is_on(browser: WebDriver, serve: Serve) -> None:
    with serve(TOKENS) as base:
        browser.get(f"{base}/ui/")
        field = find(browser, "input#token")
        field.send_keys("not-a-token-at-all-really")
        click(browser, "form.login button[type=submit]")
        assert "not accepted" in find(browser, "form.login .notice.error").text
        support.screenshot(browser, "login")
        find(browser, "input#token").send_keys(ADMIN_TOKEN)
        click(browser, "form.login button[type=submit]")
        find(browser, "table.grid")
        assert find(browser, ".badge.role").text == "admin"
        assert browser.execute_script("return sessionStorage.getItem('dtq.token')") == ADMIN_TOKEN
        browser.refresh()  # the token survives a reload in this tab
        find(browser, ".badge.role")
        click(browser, ".who button")  # sign out
        find(browser, "input#token")
        assert browser.execute_script("return sessionStorage.getItem('dtq.token')") is None


def test_producer_token_hides_admin_actions(browser: WebDriver, serve: Serve) -> None:
    with serve(TOKENS) as base, support.api_client(base, PRODUCER_TOKEN) as api:
        (task_id,) = support.enqueue(
            api, [{"task": "send_email", "queue": "emails", "payload": {"to": "a@example.com"}}]
        )
        browser.get(f"{base}/ui/#/dead")  # an admin page: producers land on task lookup instead
        find(browser, "input#token").send_keys(PRODUCER_TOKEN)
        click(browser, "form.login button[type=submit]")
        assert find(browser, ".badge.role").text == "producer"
        links = [a.get_attribute("data-route") for a in browser.find_elements(By.CSS_SELECTOR, "nav.primary a")]
        assert links == ["task"]
        find(browser, "input#lookup-id").send_keys(task_id)
        click(browser, ".filters button[type=submit]")
        find(browser, f'.record[data-task="{task_id}"]')
        assert browser.find_elements(By.CSS_SELECTOR, "[data-action]") == []
        assert browser.find_elements(By.XPATH, "//button[contains(., 'Cancel') or contains(., 'Pause')]") == []
        support.screenshot(browser, "producer")


VERBS = ("Cancel", "Pause", "Resume", "Redrive", "Purge")
ACTIONS = "//button[" + " or ".join(f"contains(., '{verb}')" for verb in VERBS) + "]"


def no_actions(driver: WebDriver) -> None:
    assert driver.find_elements(By.CSS_SELECTOR, "[data-action]") == []
    assert driver.find_elements(By.XPATH, ACTIONS) == []


def test_viewer_token_sees_every_page_but_no_actions(browser: WebDriver, serve: Serve, settings: Settings) -> None:
    with serve(TOKENS) as base, support.api_client(base, ADMIN_TOKEN) as api:
        dead = support.enqueue(api, [{"task": "charge_card", "queue": "billing", "payload": n, "max_retries": 0}
                                     for n in range(2)])  # fmt: skip
        support.run_burst(settings, ["billing"])
        support.enqueue(api, [{"task": "send_email", "queue": "emails"}] * 3)
        browser.get(f"{base}/ui/")
        find(browser, "input#token").send_keys(VIEWER_TOKEN)
        click(browser, "form.login button[type=submit]")
        assert find(browser, ".badge.role").text == "viewer"
        links = [a.get_attribute("data-route") for a in browser.find_elements(By.CSS_SELECTOR, "nav.primary a")]
        assert links == ["", "dead", "scheduled", "workers", "task"]

        wait(browser).until(text_is(cell("emails", "ready"), "3"))  # the overview, live
        wait(browser).until(text_is(cell("billing", "dead"), "2"))
        assert browser.find_elements(By.CSS_SELECTOR, 'td[data-col="actions"]') == []
        no_actions(browser)
        support.screenshot(browser, "viewer-overview")

        click(browser, 'nav.primary a[data-route="dead"]')
        row = find(browser, f'tr[data-id="{dead[0]}"]')
        assert "RuntimeError: card declined: 0" in row.text
        assert "2 dead in every queue" in find(browser, ".bulk").text
        no_actions(browser)
        click(browser, f'tr[data-id="{dead[0]}"] td button.link')  # inspecting is reading: allowed
        assert "RuntimeError" in find(browser, "dialog.record-dialog pre.error").text
        no_actions(browser)
        support.screenshot(browser, "viewer-dead")
        click(browser, "dialog.record-dialog button[aria-label=Close]")

        browser.get(f"{base}/ui/#/queues/emails")
        wait(browser).until(text_is('.tabs a[data-state="queued"] .count', "3"))
        assert len(browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-id]")) == 3
        no_actions(browser)


def test_overview_renders_100_queues_quickly(browser: WebDriver, serve: Serve) -> None:
    with serve() as base, support.api_client(base) as api:
        support.enqueue(
            api, [{"task": "t", "queue": f"q{n:03}", "priority": n % 10} for n in range(100) for _ in range(100)]
        )
        browser.get(f"{base}/ui/")
        wait(browser).until(lambda d: support.rendered_ms(d) is not None)
        rows = browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr[data-key]")
        assert len(rows) == 100
        assert browser.find_element(By.CSS_SELECTOR, '[data-total="ready"]').text == "10,000"
        elapsed = support.rendered_ms(browser)
        assert elapsed is not None and elapsed < 3000, (
            f"the overview took {elapsed:.0f} ms (bench: tests/ui/bench_load.py)"
        )
