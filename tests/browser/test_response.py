"""A whole response in the browser: a coordinator activates, an outreach worker on a phone finishes a task."""

import pytest
from sqlalchemy import select

from crisis.incidents.models import Incident
from crisis.tasks.models import Task, TaskStatus
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_coordinator_activates_and_outreach_completes_a_task_on_a_phone(
    live_server, chromium, screenshot, session, response_setup
):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]

    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    page = desk.new_page()
    log_in(page, live_server, coordinator.email)
    page.click("text=Aktivera insats")
    page.select_option("#type", "shooting")
    page.select_option("#outcome", "injured")
    page.select_option("#threat_level", "normal")
    page.select_option("#persons", "1")
    page.fill("#police_reference", "5000-K999-26")
    screenshot(page, "01-coordinator-activate")
    page.click("button.primary.big")
    page.click("button[name=step][value=activate]")  # the confirmation step (issue 18)
    page.wait_for_selector("text=är aktiverad")
    assert "Larma uppsökande team" in page.content()

    # Register a relative and record consent: the outreach steps appear.
    page.click("text=Lägg till anhörig")
    page.select_option("#relation", "parent")
    page.fill("#phone", "070-174 06 94")
    page.click("form[action$='/relatives'] button[value=open]")
    page.wait_for_selector("text=Registrera samtycke")
    for choice in ("state][value=given", "scope][value=contact", "given_by][value=relative",
                   "method][value=verbal"):
        page.check(f"input[name={choice}]")
    page.click(".consent-form button[type=submit]")
    page.wait_for_selector("text=Samtycket är registrerat.")
    page.click("summary:has-text('Kontaktperson och hänvisningar')")
    page.select_option("#user_id", str(worker.id))
    page.click("text=Spara kontaktperson")
    page.wait_for_selector("text=Kontaktpersonen är sparad.")
    screenshot(page, "02-coordinator-relative")
    incident = session.scalar(select(Incident))
    page.goto(f"{live_server}/incidents/{incident.id}")
    screenshot(page, "03-coordinator-incident")
    desk.close()

    phone = chromium.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE",
                                 is_mobile=True, has_touch=True)
    page = phone.new_page()
    log_in(page, live_server, worker.email)
    page.wait_for_selector("h1:has-text('Mina uppgifter')")
    screenshot(page, "04-outreach-my-tasks")
    page.click(".task-card a >> text=Första kontakt")
    page.wait_for_selector("a.button.call")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    for box in page.query_selector_all(".checklist input[type=checkbox]"):
        box.check()
    page.fill("#note", "Träffade anhörig i trapphuset, ny tid på torsdag.")
    screenshot(page, "05-outreach-task")
    tap_height = page.eval_on_selector("button.primary.big", "b => b.getBoundingClientRect().height")
    assert tap_height >= 44
    page.click("button.primary.big")  # "Markera som klar"
    page.wait_for_selector("text=Klart:")
    screenshot(page, "06-outreach-done")
    phone.close()

    session.expire_all()
    task = session.scalar(select(Task).where(Task.step_id == "first-contact"))
    assert task.status == TaskStatus.DONE
    assert task.relative.first_contact_at is not None
