"""In Chromium at 360x740: an admin invites an outreach worker, the worker sets a password from the
link, is put on tonight's rota, and a dispatch reaches them first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.auth.models import User
from crisis.core.db import utcnow
from crisis.dispatch.models import DispatchAttempt
from crisis.oncall.services import TZ
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 360, "height": 740}, "locale": "sv-SE", "is_mobile": True, "has_touch": True}


def no_sideways_scrolling(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_invited_worker_on_tonights_rota_gets_the_dispatch_first(
        live_server, chromium, screenshot, session, response_setup, activate, create_user):
    team = response_setup["team"]
    incident = activate()
    admin = create_user("admin", email="admin@example.se")

    # The admin invites a new outreach worker on a phone.
    admin_phone = chromium.new_context(**PHONE)
    page = admin_phone.new_page()
    log_in(page, live_server, admin.email)
    page.goto(f"{live_server}/admin/staff/invite")
    page.fill("#email", "nattjour@example.se")
    page.fill("#name", "Nina Nattjour")
    page.fill("#phone", "070-174 06 70")
    page.select_option("#district", str(response_setup["district"].id))
    assert no_sideways_scrolling(page)
    screenshot(page, "12-admin-invite")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    link = page.input_value("input.one-time-link")
    assert "/account/link/" in link
    screenshot(page, "12-admin-invite-link")

    # The worker chooses a password from the link, on their own phone.
    worker_phone = chromium.new_context(**PHONE)
    wpage = worker_phone.new_page()
    wpage.goto(live_server + link[link.index("/account/link/"):])  # PUBLIC_BASE_URL is not this test server
    wpage.wait_for_selector("h1:has-text('Välj lösenord')")
    wpage.fill("#password", "nattens losenord")
    wpage.fill("#password_again", "nattens losenord")
    assert no_sideways_scrolling(wpage)
    with wpage.expect_navigation():
        wpage.click("button[type=submit].primary")
    wpage.wait_for_selector("text=Ditt lösenord är valt.")
    log_in(wpage, live_server, "nattjour@example.se", "nattens losenord")
    assert "/login" not in wpage.url
    worker = session.scalar(select(User).where(User.email == "nattjour@example.se"))

    # The admin adds her to the team and puts her on call tonight.
    page.goto(f"{live_server}/teams/{team.id}")
    page.select_option("#add_user_id", str(worker.id))
    with page.expect_navigation():
        page.click("text=Spara medlemmar")
    now = utcnow().astimezone(TZ)
    tomorrow_morning = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    page.select_option("#override_user", str(worker.id))
    page.fill("#starts_at", (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#ends_at", tomorrow_morning.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.click("text=Spara ändringen")
    page.wait_for_selector("text=Jour nu")
    assert "Nina Nattjour" in page.inner_text(".oncall-now")
    assert no_sideways_scrolling(page)
    screenshot(page, "12-team-on-call")
    admin_phone.close()

    # The coordinator dispatches the team: the alert reaches the person on call first.
    desk = chromium.new_context(**PHONE)
    cpage = desk.new_page()
    log_in(cpage, live_server, response_setup["coordinator"].email)
    cpage.goto(f"{live_server}/dispatches/new?incident={incident.id}")
    cpage.check("input[name=target][value=team]")
    cpage.select_option("#team_id", str(team.id))
    with cpage.expect_navigation():
        cpage.click("button[type=submit].primary")
    session.expire_all()
    first = session.scalar(select(DispatchAttempt).order_by(DispatchAttempt.id))
    assert first.user_id == worker.id and first.level == 0
    assert first.message is not None and first.message.to_number == "+46701740670"
    desk.close()

    wpage.goto(f"{live_server}/dispatches")
    wpage.wait_for_selector(".dispatch-card")
    assert no_sideways_scrolling(wpage)
    screenshot(wpage, "12-worker-alerted")
    worker_phone.close()
