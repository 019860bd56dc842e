"""The report in Chromium, on a desk and on a phone: the charts are there and legible."""

import pytest

from tests.browser.conftest import ARTIFACTS, live_server, log_in, screenshot  # noqa: F401 (fixtures)
from tests.reports.browser import run_in_chromium

pytestmark = pytest.mark.browser


def test_a_manager_reads_the_district_comparison(live_server, screenshot, busy_city, create_user):  # noqa: F811
    manager = create_user("manager")
    query = f"start={busy_city.start.isoformat()}&end={busy_city.end.isoformat()}"
    run_in_chromium(lambda chromium: _read_the_report(chromium, live_server, screenshot, manager, query))


def _read_the_report(chromium, live_server, screenshot, manager, query):  # noqa: F811
    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    page = desk.new_page()
    log_in(page, live_server, manager.email)
    page.goto(f"{live_server}/reports?{query}")
    page.wait_for_selector("svg.chart-wide")
    assert page.locator("svg.chart-narrow").first.is_hidden()
    chart = page.locator("svg.chart-wide").first
    assert chart.bounding_box()["width"] >= 600
    screenshot(page, "reports-desk")
    chart.screenshot(path=str(ARTIFACTS / "reports-chart-first-contact.png"))
    desk.close()

    phone = chromium.new_context(viewport={"width": 390, "height": 844}, locale="sv-SE", is_mobile=True,
                                 has_touch=True)
    page = phone.new_page()
    log_in(page, live_server, manager.email)
    page.goto(f"{live_server}/reports?{query}")
    page.wait_for_selector("svg.chart-narrow")
    assert page.locator("svg.chart-wide").first.is_hidden()
    # On a phone the chart fits the screen: no scrolling sideways to see a bar.
    assert page.locator("svg.chart-narrow").first.bounding_box()["width"] <= 390
    screenshot(page, "reports-phone")
    page.locator("svg.chart-narrow").first.screenshot(path=str(ARTIFACTS / "reports-chart-phone.png"))
    # Wide tables and charts scroll inside their boxes; the page itself does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()
