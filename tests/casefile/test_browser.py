"""The timeline and the access-log review in Chromium: what a manager sees."""

import pytest

from tests.browser.conftest import live_server, log_in, screenshot  # noqa: F401 (fixtures)
from tests.reports.browser import run_in_chromium

pytestmark = pytest.mark.browser


def test_a_manager_reviews_a_response_and_its_access_log(live_server, screenshot, case, create_user):  # noqa: F811
    manager = create_user("manager", name="Maja Chef")
    run_in_chromium(lambda chromium: _review(chromium, live_server, screenshot, case, manager))


def _review(chromium, live_server, screenshot, case, manager):  # noqa: F811
    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    page = desk.new_page()
    log_in(page, live_server, manager.email)
    page.goto(f"{live_server}/incidents/{case.incident.id}")
    page.click("text=Tidslinje: vem gjorde vad, och när")
    page.wait_for_selector("h1:has-text('Tidslinje för insats')")
    assert page.locator(".timeline-entry.is-flagged").count() == 1
    screenshot(page, "timeline-desk")
    page.check("input[name=kind][value=access]")
    page.click("button:has-text('Filtrera')")
    page.wait_for_url("**kind=access**")
    assert page.locator(".timeline-entry").count() == 2
    page.click("text=Åtkomstlogg för insatsen")
    page.wait_for_selector("h1:has-text('Loggkontroll')")
    assert page.locator("tr.is-flagged").count() == 1
    screenshot(page, "access-log-desk")
    with page.expect_download() as download:
        page.click("text=Ladda ner CSV")
    assert download.value.suggested_filename.startswith("access-log-")
    desk.close()

    phone = chromium.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE", is_mobile=True,
                                 has_touch=True)
    page = phone.new_page()
    log_in(page, live_server, case.worker.email)
    page.goto(f"{live_server}/incidents/{case.incident.id}/timeline")
    page.wait_for_selector(".timeline-entry")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "timeline-phone")
    phone.close()
