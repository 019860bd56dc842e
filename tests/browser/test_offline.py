"""The outreach worker's phone without a connection (issue 16, items 2, 3 and 5), in Debian's Chromium.

A worker reads their kept pages offline, marks a task done and records a
follow-up's outcome; the changes wait on the phone and are sent when the
connection returns, and the coordinator's dashboard shows them live. A
coordinator's change made meanwhile is a conflict the worker sees with both
values and decides on. Logging out empties the phone's page cache.
Screenshots land in test-artifacts/ (offline-*).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.dispatch.services import dispatch_staff
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.incidents import services
from crisis.incidents.access import assign
from crisis.tasks.models import Task, TaskStatus
from crisis.tasks.services import update_task
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1366, "height": 900}


@pytest.fixture
def visit(session, activate, response_setup):
    """A worker assigned to a response, contact person of a relative who consented (so the relative's
    tasks and follow-ups are the worker's), with a follow-up due in two days."""
    coordinator, worker = response_setup["coordinator"], response_setup["workers"][0]
    incident = activate()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent",
                                     phone="+46701740692", contact_person_id=worker.id)
    services.record_consent(session, relative, actor=coordinator, state="given")
    assign(session, worker.id, incident.id)
    session.commit()
    tasks = session.scalars(select(Task).where(Task.relative_id == relative.id, Task.owner_user_id == worker.id,
                                               Task.status == TaskStatus.OPEN).order_by(Task.id)).all()
    follow_up = session.scalar(select(FollowUp).where(FollowUp.relative_id == relative.id).order_by(FollowUp.id))
    follow_up.due_at = datetime.now(UTC) + timedelta(days=2)  # the plan dates it from a later fact
    session.commit()
    assert len(tasks) >= 2 and follow_up.owner_user_id == worker.id
    return {"worker": worker, "coordinator": coordinator, "incident": incident, "relative": relative,
            "tasks": tasks, "follow_up": follow_up}


def phone_with_kept_pages(chromium, base: str, worker, paths: list[str]):
    """The worker's phone, logged in, after "Mina uppgifter" has kept `paths` for reading offline."""
    context = chromium.new_context(viewport=PHONE, locale="sv-SE", timezone_id="Europe/Stockholm",
                                   is_mobile=True, has_touch=True)
    page = context.new_page()
    log_in(page, base, worker.email)
    page.goto(f"{base}/me/tasks")
    kept_paths = """async (name) => {
      if (!(await caches.has(name))) return [];
      return (await (await caches.open(name)).keys()).map(r => new URL(r.url).pathname);
    }"""
    eventually(lambda: set(paths) <= set(page.evaluate(kept_paths, f"krisstod-pages-u{worker.id}"))
               and page.evaluate("async () => !!(await caches.match('/static/js/offline.js'))"),
               page, "pages kept for reading offline")
    return context, page


def eventually(check, page, what: str) -> None:
    """Poll `check` (page.evaluate awaits a promise; wait_for_function would not)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


PROBE = """async () => {
  try { await fetch('/static/js/pwa.js?probe=' + Date.now()); return 'online'; } catch (e) { return 'offline'; }
}"""


def go_offline(context, page) -> None:
    """Cut the phone's connection, and wait until its service worker is cut off too.

    The page's request goes to the service worker, which fetches it from the network; a worker
    that was stopped while idle gets the emulated offline state a moment after it starts again."""
    page.evaluate(PROBE)  # wakes the service worker up
    context.set_offline(True)
    page.wait_for_function("!navigator.onLine", polling=100, timeout=TIMEOUT_MS)
    eventually(lambda: page.evaluate(PROBE) == "offline", page, "the service worker to be offline")


def log_out_and_check_the_cache_is_empty(page, base: str) -> None:
    page.goto(f"{base}/more")
    with page.expect_navigation():
        page.click("main .logout-form button")
    assert "/login" in page.url
    try:
        eventually(lambda: page.evaluate("async () => await caches.keys()") == [], page, "an empty cache")
    except AssertionError:
        raise AssertionError(f"still cached: {page.evaluate('async () => await caches.keys()')}") from None


def test_offline_changes_wait_on_the_phone_and_reach_the_dashboard_when_the_signal_returns(
        app, live_server, chromium, screenshot, session, visit):
    worker, task, follow_up = visit["worker"], visit["tasks"][0], visit["follow_up"]
    with app.app_context():  # the alert's link is signed with the app's key
        (alert,) = dispatch_staff(session, incident=visit["incident"], users=[worker],
                                  actor=visit["coordinator"], purpose="visit", task=session.get(Task, task.id))
        session.commit()
    errors: list[str] = []
    # The coordinator watches the dashboard, live.
    desk = chromium.new_context(viewport=DESK, locale="sv-SE")
    dashboard = desk.new_page()
    log_in(dashboard, live_server, visit["coordinator"].email)
    dashboard.goto(f"{live_server}/dashboard")
    dashboard.wait_for_selector('#live-status[data-state="live"]', timeout=TIMEOUT_MS)
    context, page = phone_with_kept_pages(
        chromium, live_server, worker,
        ["/me/tasks", f"/tasks/{task.id}", f"/followups/{follow_up.id}", f"/relatives/{visit['relative'].id}",
         "/me/device"])
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        go_offline(context, page)
        # The alert is acknowledged from "Mina uppgifter", without a connection.
        page.click(".alert-card button.ack-button")
        expect(page.locator("#offline-message")).to_contain_text("Sparat på telefonen")
        expect(page.locator("#offline-badge")).to_have_text("1 ändring väntar")
        # A kept task, read without a connection: the page says so and since when.
        page.click(f"a[href='/tasks/{task.id}']")
        expect(page.locator("#offline-banner")).to_contain_text("Visas utan anslutning – hämtad kl. ")
        assert page.get_attribute("body", "data-offline-fetched")
        page.click("form.task-form button[name=status][value=done]")
        expect(page.locator("#offline-message")).to_contain_text("Sparat på telefonen")
        expect(page.locator("#offline-badge")).to_have_text("2 ändringar väntar")
        screenshot(page, "offline-01-task-done-queued")

        # The follow-up's outcome, recorded offline too.
        page.goto(f"{live_server}/followups/{follow_up.id}")
        expect(page.locator("#offline-banner")).to_be_visible()
        page.check("input[name=outcome][value=reached]")
        page.fill("textarea[name=note]", "Pratade länge, mår bättre.")
        page.click(".outcome-form button[type=submit]")
        expect(page.locator("#offline-badge")).to_have_text("3 ändringar väntar")
        # Read again before it went, the task says its change waits, and it cannot be sent twice.
        page.goto(f"{live_server}/tasks/{task.id}")
        expect(page.locator("#offline-message")).to_contain_text("väntar på telefonen")
        expect(page.locator("form.task-form button[name=status][value=done]")).to_be_disabled()

        page.goto(f"{live_server}/me/device")
        items = page.locator("#offline-queue-list .offline-item[data-state=waiting]")
        expect(items).to_have_count(3)
        expect(items.nth(0)).to_contain_text("Bekräfta larmet")
        expect(items.nth(1)).to_contain_text("Status: Klar")
        expect(items.nth(2)).to_contain_text("Utfall: Nådd")
        screenshot(page, "offline-02-waiting-on-the-device-page")
        session.expire_all()
        assert session.get(Task, task.id).status == TaskStatus.OPEN  # nothing reached the server yet

        # The signal returns: the queue goes in order, and the dashboard shows it at once.
        context.set_offline(False)
        expect(page.locator("#offline-queue-list .offline-item")).to_have_count(0, timeout=TIMEOUT_MS)
        expect(page.locator("#offline-badge")).to_be_hidden()
        expect(page.locator("#offline-message")).to_contain_text("är skickade")
        session.expire_all()
        # In order: the alert acknowledged (the task became the worker's: a newer version, but its status
        # was not touched, so "done" went on top of it), then the task done, then the follow-up
        # (re-dated by the first contact, still open).
        assert session.get(Dispatch, alert.id).status == DispatchStatus.ACKNOWLEDGED
        assert session.get(Task, task.id).status == TaskStatus.DONE
        synced = session.get(FollowUp, follow_up.id)
        assert synced.status == FollowUpStatus.REACHED and synced.outcome_note == "Pratade länge, mår bättre."
        expect(dashboard.locator("#live-feed")).to_contain_text("→ klar", timeout=TIMEOUT_MS)
        screenshot(dashboard, "offline-03-dashboard-sees-the-change")

        log_out_and_check_the_cache_is_empty(page, live_server)
        assert errors == []
    finally:
        context.close()
        desk.close()


def test_a_change_made_meanwhile_is_a_conflict_the_worker_decides_on(
        live_server, chromium, screenshot, session, visit):
    worker, coordinator = visit["worker"], visit["coordinator"]
    first, second = visit["tasks"][0], visit["tasks"][1]
    context, page = phone_with_kept_pages(chromium, live_server, worker,
                                          [f"/tasks/{first.id}", f"/tasks/{second.id}", "/me/device"])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        go_offline(context, page)
        page.goto(f"{live_server}/tasks/{first.id}")
        page.click("form.task-form button[name=status][value=done]")
        expect(page.locator("#offline-badge")).to_have_text("1 ändring väntar")
        page.goto(f"{live_server}/tasks/{second.id}")
        page.click(".blocked-box summary")
        page.click("button[name=status][value=blocked]")  # no reason: refused on the phone already
        expect(page.locator("#offline-message")).to_contain_text("Skriv kort vad som hindrar")
        page.fill("textarea[name=blocked_reason], input[name=blocked_reason]", "Ingen svarar i dörren")
        page.click("button[name=status][value=blocked]")
        expect(page.locator("#offline-badge")).to_have_text("2 ändringar väntar")

        # Meanwhile the coordinator changes both tasks.
        for task in (first, second):
            row = session.get(Task, task.id)
            update_task(session, row, actor=coordinator, expected_version=row.version, status="in_progress")
        session.commit()

        context.set_offline(False)
        page.goto(f"{live_server}/me/device")
        conflicts = page.locator("#offline-queue-list .offline-item[data-state=conflict]")
        expect(conflicts).to_have_count(2, timeout=TIMEOUT_MS)
        mine_first = conflicts.nth(0)
        expect(mine_first.locator(".offline-theirs")).to_contain_text("Status: Pågår")
        expect(mine_first.locator(".offline-mine")).to_contain_text("Status: Klar")
        expect(conflicts.nth(1).locator(".offline-mine")).to_contain_text("Ingen svarar i dörren")
        expect(page.locator("#offline-badge")).to_contain_text("2 ändringar behöver ditt beslut")
        screenshot(page, "offline-04-conflict-both-values")

        # Logging out with changes waiting warns, and offers to send them first.
        page.goto(f"{live_server}/more")
        page.click("main .logout-form button")
        page.wait_for_url("**/me/device?logout=1*")
        expect(page.locator("#offline-logout-warning")).to_be_visible()
        expect(page.locator("#offline-logout-text")).to_contain_text("2 ändringar har inte skickats än")
        screenshot(page, "offline-05-logout-warns")
        # Logged out anyway: the kept pages go, the changes stay on the phone for the same person.
        with page.expect_navigation():
            page.click("#offline-logout-warning button[type=submit]")
        assert "/login" in page.url
        eventually(lambda: page.evaluate("async () => await caches.keys()") == [], page, "an empty cache")
        log_in(page, live_server, worker.email)
        page.goto(f"{live_server}/me/device")
        expect(conflicts).to_have_count(2, timeout=TIMEOUT_MS)

        # Keep mine on the first (sent again against the version there is now), drop mine on the second.
        page.locator("#offline-queue-list .offline-item").nth(0).locator("button[data-action=keep]").click()
        expect(page.locator("#offline-queue-list .offline-item")).to_have_count(1, timeout=TIMEOUT_MS)
        page.locator("#offline-queue-list .offline-item").nth(0).locator("button[data-action=drop]").click()
        expect(page.locator("#offline-queue-list .offline-item")).to_have_count(0)
        session.expire_all()
        assert session.get(Task, first.id).status == TaskStatus.DONE
        assert session.get(Task, second.id).status == TaskStatus.IN_PROGRESS  # the coordinator's stays

        log_out_and_check_the_cache_is_empty(page, live_server)
        assert errors == []
    finally:
        context.close()


def test_a_form_that_fails_on_the_way_is_kept_and_sent_later(live_server, chromium, session, visit):
    """With a connection the form is sent as usual; when that request fails on the way, the service
    worker goes back to the page and the change is queued instead of lost, then sent."""
    worker, task = visit["worker"], visit["tasks"][0]
    context, page = phone_with_kept_pages(chromium, live_server, worker, [f"/tasks/{task.id}"])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    lost: list[str] = []

    def drop_form_posts(route):
        if route.request.method == "POST" and not route.request.url.startswith(f"{live_server}/api/"):
            lost.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    try:
        page.goto(f"{live_server}/tasks/{task.id}")
        context.route(f"{live_server}/tasks/*", drop_form_posts)
        page.click("form.task-form button[name=status][value=done]")
        page.wait_for_url(f"**/tasks/{task.id}")
        assert lost == [f"{live_server}/tasks/{task.id}"]
        context.unroute(f"{live_server}/tasks/*")
        # Queued on the way back, and sent at once since the phone is online.
        eventually(lambda: session.expire_all() or session.get(Task, task.id).status == TaskStatus.DONE,
                   page, "the change to reach the server")
        expect(page.locator("#offline-badge")).to_be_hidden()
        assert errors == []
    finally:
        context.close()
