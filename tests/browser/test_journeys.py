"""The two journeys of issue 18, end to end in Debian's Chromium, with timings printed.

The coordinator at the desk (1366x900) activates with a confirmation step,
withdraws an activation made by mistake, and watches a card change on the
dashboard. The outreach worker on a phone (360x740) goes from the alert, to
acknowledging, to the visit task, to a call, to consent, to done.
Screenshots land in test-artifacts/ under the names the steps print.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.dispatch.services import acknowledge_dispatch, dispatch_staff
from crisis.incidents import services as incident_services
from crisis.incidents.models import Incident, Relative
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import AccessLog, TimelineEvent
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000
DESK = {"width": 1366, "height": 900}
PHONE = {"width": 360, "height": 740}


class Stopwatch:
    """Prints how long each step took, as a person would feel it."""

    def __init__(self, journey: str):
        self.journey = journey
        self.started = self.last = time.perf_counter()

    def step(self, name: str) -> None:
        now = time.perf_counter()
        print(f"[{self.journey}] {name}: {(now - self.last) * 1000:.0f} ms")
        self.last = now

    def total(self) -> float:
        seconds = time.perf_counter() - self.started
        print(f"[{self.journey}] total: {seconds:.2f} s")
        return seconds


def test_coordinator_activates_with_confirmation_withdraws_a_mistake_and_watches_a_card_change(
        app, live_server, chromium, screenshot, session, response_setup):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]
    clock = Stopwatch("desk")
    context = chromium.new_context(viewport=DESK, locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server, coordinator.email)
        page.goto(f"{live_server}/incidents/new")
        clock.step("log in and open the activation form")

        # Nothing chosen for the coordinator but the time and their own district.
        for select_id, empty in (("#type", ""), ("#outcome", ""), ("#threat_level", ""), ("#persons", "0")):
            assert page.input_value(select_id) == empty, select_id
        assert page.input_value("#occurred_at")
        assert page.input_value("#district_id") == str(response_setup["district"].id)
        page.click("button.primary.big")  # an untouched submit creates nothing
        expect(page.locator(".field-error").first).to_be_visible()
        assert session.scalar(select(Incident)) is None
        clock.step("untouched submit refused")

        # "Avliden" asks for the date of death in the same form.
        expect(page.locator("#death-facts")).to_be_hidden()  # once activate.js has run on the re-rendered form
        page.select_option("#type", "shooting")
        page.select_option("#outcome", "deceased")
        expect(page.locator("#death-facts")).to_be_visible()
        page.check("#death_unknown")
        page.select_option("#threat_level", "normal")
        page.select_option("#persons", "1")
        page.fill("#police_reference", "5000-K777-26")
        screenshot(page, "desk-01-activate-form")
        page.click("button.primary.big")
        page.wait_for_selector("h1:has-text('Kontrollera innan du aktiverar')")
        assert page.locator(".confirm-tasks li").count() > 3
        expect(page.locator(".confirm-team")).to_contain_text("SIG Farsta")
        expect(page.locator(".confirm-members li").first).to_be_visible()
        assert session.scalar(select(Incident)) is None  # still nothing created
        screenshot(page, "desk-02-confirm")
        clock.step("confirmation with tasks, deadlines and team")
        page.click("button[name=step][value=activate]")
        page.wait_for_selector("text=är aktiverad")
        real = session.scalar(select(Incident))
        clock.step("activated")

        # A second activation by mistake, withdrawn with a reason.
        page.goto(f"{live_server}/incidents/new")
        page.select_option("#type", "lethal_violence")
        page.select_option("#outcome", "injured")
        page.select_option("#threat_level", "normal")
        page.select_option("#persons", "1")
        page.click("button.primary.big")
        page.click("button[name=step][value=activate]")
        page.wait_for_selector("text=är aktiverad")
        mistake = session.scalars(select(Incident).order_by(Incident.id.desc())).first()
        assert mistake.id != real.id
        page.click("text=Återta en aktivering som gjordes av misstag")
        page.fill("#reason", "Dubblett, fel typ av händelse")
        screenshot(page, "desk-03-withdraw")
        page.click("button.danger")
        page.wait_for_selector("text=finns kvar i tidslinjen")
        clock.step("mistaken activation withdrawn")

        page.goto(f"{live_server}/dashboard")
        page.wait_for_selector('#live-status[data-state="live"]', timeout=TIMEOUT_MS)
        assert page.locator(f"#incident-{real.id}").count() == 1
        assert page.locator(f"#incident-{mistake.id}").count() == 0
        # The event feed is in view at 1366x900 without scrolling.
        feed = page.locator(".live-feed-panel").bounding_box()
        assert feed is not None and feed["y"] < DESK["height"] - 100 and feed["x"] > DESK["width"] / 2
        clock.step("dashboard live")

        # Something happens elsewhere: the card is highlighted and the change announced.
        incident_services.add_relative(session, session.get(Incident, real.id), actor=coordinator,
                                       relation="parent")
        session.commit()
        page.wait_for_selector(f"#incident-{real.id}.live-card-changed", timeout=TIMEOUT_MS)
        expect(page.locator("#live-announcer")).to_contain_text("Ny händelse", timeout=TIMEOUT_MS)
        assert page.get_attribute("#live-announcer", "aria-live") == "polite"
        clock.step("card highlighted and announced")
        screenshot(page, "desk-04-dashboard-changed")

        # A member who acknowledged is on the way, not "available".
        with app.app_context():  # the alert's link is signed with the app's key
            (dispatch,) = dispatch_staff(session, incident=session.get(Incident, real.id), users=[worker],
                                         actor=coordinator)
            acknowledge_dispatch(session, dispatch, user=worker, via="app")
            session.commit()
        page.wait_for_selector(f'li[data-user-id="{worker.id}"][data-availability="on_the_way"]',
                               timeout=TIMEOUT_MS)
        clock.step("acknowledger shown on the way")
        screenshot(page, "desk-05-dashboard-on-the-way")
        assert clock.total() < 60
        assert errors == []
    finally:
        context.close()


def test_outreach_worker_goes_from_alert_to_done_on_a_phone(
        app, live_server, chromium, screenshot, session, response_setup, activate):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]
    incident = activate()
    relative = incident_services.add_relative(session, incident, actor=coordinator, relation="parent",
                                              phone="070-174 06 99")
    session.commit()
    consent_task = session.scalar(select(Task).where(Task.relative_id == relative.id,
                                                     Task.step_id == "obtain-consent"))
    with app.app_context():  # the alert's link is signed with the app's key
        (dispatch,) = dispatch_staff(session, incident=incident, users=[worker], actor=coordinator,
                                     purpose="visit", task=consent_task)
        session.commit()
        reference = dispatch.reference

    clock = Stopwatch("phone")
    context = chromium.new_context(viewport=PHONE, locale="sv-SE", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server, worker.email)
        page.wait_for_selector("h1:has-text('Mina uppgifter')")
        # The alert comes first, acknowledgeable with one tap.
        first = page.locator("main section").first
        expect(first).to_contain_text(f"Larm {reference}")
        screenshot(page, "phone-01-my-tasks-alert")
        clock.step("log in: the alert first")
        page.tap(".alert-card button.ack-button")
        page.wait_for_selector("#next-step-title")
        screenshot(page, "phone-02-acknowledged-next-step")
        clock.step("acknowledged with one tap")
        session.expire_all()
        assert session.get(Dispatch, dispatch.id).status == DispatchStatus.ACKNOWLEDGED
        assert session.get(Task, consent_task.id).owner_user_id == worker.id
        assert session.scalar(select(TimelineEvent).where(TimelineEvent.type == "task.reassigned"))

        page.tap(".next-step a.button.primary")
        page.wait_for_selector("h1.task-title, .task-page h1")
        screenshot(page, "phone-03-visit-task")
        clock.step("the visit task")
        page.tap(f"a[href$='/relatives/{relative.id}']:visible >> nth=-1")
        page.wait_for_selector("#next-action-title")
        assert "tel:" not in page.content()  # no number before asking for consent
        page.tap("button.call-ask")
        call = page.locator("#consent-call-link")
        expect(call).to_have_attribute("href", "tel:+46701740699")
        screenshot(page, "phone-04-call-to-ask-for-consent")
        clock.step("call to ask for consent")
        session.expire_all()
        logged = session.scalar(select(AccessLog).where(AccessLog.relative_id == relative.id,
                                                        AccessLog.action == "consent_call"))
        assert logged is not None and "samtycke" in logged.reason

        # Consent: nothing preselected; every choice a tap of its own.
        assert page.locator(".consent-form input:checked").count() == 0
        page.tap("input[name=state][value=given]")
        page.tap("input[name=scope][value=contact]")
        page.tap("input[name=given_by][value=relative]")
        page.tap("input[name=method][value=verbal]")
        page.tap(".consent-form button[type=submit]")
        page.wait_for_selector("text=Samtycket är registrerat.")
        screenshot(page, "phone-05-consent-recorded")
        clock.step("consent recorded")
        session.expire_all()
        assert session.get(Relative, relative.id).consent.value == "given"

        # Back to "Mina uppgifter" from the bottom bar; one tap marks the first contact done.
        page.tap(".bottom-nav a:has-text('Mina uppgifter')")
        card = page.locator(".task-card", has_text="Första kontakt").first
        expect(card).to_contain_text(relative.label)
        card.locator("button[value=done]").tap()
        page.wait_for_selector("text=Klart:")
        screenshot(page, "phone-06-done")
        clock.step("first contact done with one tap")
        session.expire_all()
        done = session.scalar(select(Task).where(Task.relative_id == relative.id, Task.step_id == "first-contact"))
        assert done.status == TaskStatus.DONE
        assert session.get(Relative, relative.id).first_contact_at is not None
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert clock.total() < 60
        assert errors == []
    finally:
        context.close()
