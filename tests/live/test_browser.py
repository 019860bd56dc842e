"""live.js in Chromium: the dashboard updates without a reload and catches up after a drop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crisis.auth.models import Availability
from crisis.auth.services import set_availability
from crisis.core.db import utcnow
from crisis.live.sockets import disconnect_user
from crisis.timeline.services import record_event
from tests.browser.conftest import chromium, log_in, screenshot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000


@pytest.fixture
def page_origin_allowed(live_server):
    """Browsers load the page from the live server's address: the same-origin check lets it open
    sockets (crisis.live.origin), as the public address does in production."""
    yield


def test_dashboard_updates_live_and_catches_up_after_a_drop(
        live_server, page_origin_allowed, chromium, screenshot, create_user, create_team,  # noqa: F811
        create_district, create_incident, create_relative, session):
    coordinator = create_user("coordinator")
    member = create_user("outreach", name="Sara Uppsökare")
    create_team(create_district(name="Farsta"), [member], name="SIG Farsta")
    incident = create_incident()
    relative = create_relative(incident, consent="given")

    context = chromium.new_context(locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server, coordinator.email)
        page.goto(f"{live_server}/dashboard")
        page.wait_for_selector('#live-status[data-state="live"]', timeout=TIMEOUT_MS)

        # A staff member's availability: the team section is fetched again.
        set_availability(session, member, Availability.BUSY)
        session.commit()
        page.wait_for_selector(f'li[data-user-id="{member.id}"][data-availability="busy"]', timeout=TIMEOUT_MS)

        # A relative reached: the incident's card is fetched again.
        relative.first_contact_at = utcnow()
        reached = record_event(session, kind="relative", type="relative.first_contact", incident_id=incident.id,
                               subject=relative, summary="First contact with a relative")
        session.commit()
        page.wait_for_selector(f'li[data-event-id="{reached.id}"]', timeout=TIMEOUT_MS)
        expect(page.locator(f"#incident-{incident.id} [data-figure=relatives_reached]")).to_have_text(
            "1 av 1", timeout=TIMEOUT_MS)

        # A new incident: its card appears.
        newer = create_incident()
        record_event(session, kind="incident", type="incident.activated", incident_id=newer.id,
                     summary=f"Response {newer.reference} activated")
        session.commit()
        page.wait_for_selector(f"#incident-{newer.id}", timeout=TIMEOUT_MS)
        expect(page.locator(f'#live-feed [data-incident-ref="{newer.id}"]')).to_have_text(newer.reference)
        assert page.text_content("#live-incident-count").strip() == "2"

        # The connection drops; what happens meanwhile arrives after the reconnect, once.
        disconnect_user(coordinator.id)
        page.wait_for_selector('#live-status[data-state="offline"]', timeout=TIMEOUT_MS)
        missed = record_event(session, kind="incident", type="incident.updated", incident_id=incident.id,
                              summary="Changed while the dashboard was away")
        session.commit()
        page.wait_for_selector(f'li[data-event-id="{missed.id}"]', timeout=TIMEOUT_MS)
        page.wait_for_selector('#live-status[data-state="live"]', timeout=TIMEOUT_MS)
        ids = page.eval_on_selector_all("#live-feed [data-event-id]", "items => items.map(i => i.dataset.eventId)")
        assert len(ids) == len(set(ids))
        assert ids[0] == str(missed.id)  # newest first
        screenshot(page, "live-dashboard")
        assert not errors
    finally:
        context.close()


def test_a_paged_dashboard_counts_a_new_incident_in_the_total_not_as_all_there_are(
        live_server, page_origin_allowed, chromium, create_user, create_district, create_incident,  # noqa: F811
        session):
    from crisis.live.dashboard import PAGE_SIZE

    coordinator = create_user("coordinator")
    district = create_district()
    for _ in range(PAGE_SIZE + 5):
        create_incident(district=district, status="active")
    context = chromium.new_context(locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server, coordinator.email)
        page.goto(f"{live_server}/dashboard")
        page.wait_for_selector('#live-status[data-state="live"]', timeout=TIMEOUT_MS)
        expect(page.locator("#live-incident-count")).to_have_text(f"{PAGE_SIZE} av {PAGE_SIZE + 5} visas")
        newer = create_incident(district=district, status="active")
        record_event(session, kind="incident", type="incident.activated", incident_id=newer.id,
                     summary=f"Response {newer.reference} activated")
        session.commit()
        page.wait_for_selector(f"#incident-{newer.id}", timeout=TIMEOUT_MS)
        expect(page.locator("#live-incident-count")).to_have_text(
            f"{PAGE_SIZE + 1} av {PAGE_SIZE + 6} visas", timeout=TIMEOUT_MS)
        assert not errors
    finally:
        context.close()
