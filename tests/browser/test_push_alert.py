"""A push alert in Debian's Chromium: the real service worker shows it and acknowledges it (issue 16).

The alert goes from the server through pywebpush to the stand-in push service
(tests/fake_push.py), which checks and decrypts it. What it decrypted is what a real push
service would hand the phone's browser: the test hands it to the registered service worker with
the DevTools protocol (`ServiceWorker.deliverPushMessage`), so the worker's own `push` handler
shows the notification.

A system notification cannot be clicked in a headless browser, so the click is asked for by the
page: static/js/sw-push.js answers a message {type: "push-notification-click", tag, action} by
running the same function as its `notificationclick` handler (`onNotificationClick`) on the
notification it finds shown with that tag. With action "ack" that is the notification's
"Kvittera – jag tar det" button: the worker POSTs the push's token to /push/ack without cookies.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.core.db import utcnow
from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.dispatch.services import dispatch_team
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.sender import run_sender_sweep
from crisis.push.services import subscribe
from crisis.timeline.models import TimelineEvent
from tests.browser.conftest import log_in
from tests.messaging.conftest import (  # noqa: F401  (fixtures)
    create_staff,
    no_pacing,
    recording_gateway,
    sender_settings,
)
from tests.push.conftest import create_world, fake_push, vapid  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}
NOTIFICATIONS = """() => navigator.serviceWorker.ready
  .then((r) => r.getNotifications())
  .then((shown) => shown.map((n) => ({title: n.title, body: n.body, tag: n.tag,
                                      actions: n.actions.map((a) => a.title)})))"""
CLICK = """([tag, action]) => new Promise((resolve) => {
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "push-notification-click-result") resolve(event.data.result);
  });
  navigator.serviceWorker.ready.then((r) => r.active.postMessage({type: "push-notification-click", tag, action}));
})"""

POST_CLICK = """([tag, action]) => { navigator.serviceWorker.ready.then(
  (r) => r.active.postMessage({type: "push-notification-click", tag, action})); }"""


def wait_for(check, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_service_worker_shows_the_push_and_its_button_acknowledges_the_alert(
        app, live_server, chromium, screenshot, session, create_world, vapid, fake_push,  # noqa: F811
        recording_gateway, sender_settings, no_pacing):  # noqa: F811
    world = create_world(2, can_log_in=True)
    worker = world.members[0]
    device = fake_push.new_subscription()
    subscribe(session, worker, endpoint=device["endpoint"], p256dh=device["keys"]["p256dh"],
              auth=device["keys"]["auth"], device_label="Chromium")
    session.commit()

    context = chromium.new_context(viewport=PHONE, locale="sv-SE", is_mobile=True, has_touch=True)
    context.grant_permissions(["notifications"], origin=live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server, worker.email)
        page.goto(f"{live_server}/me/device")
        scope = page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.scope)")
        assert scope == f"{live_server}/"
        # The device page finds this browser without a subscription of its own (headless Chromium
        # has no push service to subscribe at) and offers to turn push on.
        page.wait_for_selector("#push-status[data-state='off']")
        assert page.is_visible("#push-on")

        cdp = context.new_cdp_session(page)
        registrations: dict[str, str] = {}
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"] if not r.get("isDeleted")}))
        cdp.send("ServiceWorker.enable")
        registration_id = wait_for(lambda: page.wait_for_timeout(50) or registrations.get(f"{live_server}/"),
                                   "the service worker's registration")

        with app.app_context():
            made = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
            session.commit()
            reference, dispatch_id = made.reference, made.id
        [pushed] = fake_push.delivered()  # signed, encrypted, and decrypted by the stand-in push service

        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": live_server, "registrationId": registration_id, "data": json.dumps(pushed.payload)})
        shown = wait_for(lambda: page.evaluate(NOTIFICATIONS), "the notification")
        assert shown == [{"title": f"Larm {reference}", "body": "skjutning. Tryck för att öppna larmet.",
                          "tag": f"dispatch-{dispatch_id}", "actions": ["Kvittera – jag tar det"]}]
        session.expire_all()
        assert session.get(Dispatch, dispatch_id).status == DispatchStatus.PENDING

        # "Kvittera – jag tar det", through the worker's notificationclick code.
        result = page.evaluate(CLICK, [f"dispatch-{dispatch_id}", "ack"])
        assert result["outcome"] == "acknowledged" and result["status"] == 200, result
        after = wait_for(lambda: [n for n in page.evaluate(NOTIFICATIONS) if n["tag"].startswith("ack-")],
                         "the acknowledgement notification")
        assert after[0]["title"] == f"Larm {reference} är kvitterat. Tack!"
        assert all(n["tag"] != f"dispatch-{dispatch_id}" for n in page.evaluate(NOTIFICATIONS))
        screenshot(page, "push-01-acknowledged-from-the-notification")

        session.expire_all()
        dispatch = session.get(Dispatch, dispatch_id)
        assert dispatch.status == DispatchStatus.ACKNOWLEDGED and dispatch.acknowledged_by_id == worker.id
        event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.acknowledged"))
        assert event.data["via"] == "push"
        # The SMS held back for the push is never sent.
        [sms] = session.scalars(select(Message).where(Message.dispatch_id == dispatch_id)).all()
        assert sms.status == MessageStatus.FAILED and sms.error_code == "push_ack"
        gateway = recording_gateway()
        for later in (timedelta(minutes=2), timedelta(minutes=3)):
            run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=utcnow() + later)
        assert gateway.sent == []


        # A second alert: tapping the notification itself opens the alert (after the login, as the SMS link).
        with app.app_context():
            second = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
            session.commit()
            second_id = second.id
        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": live_server, "registrationId": registration_id,
            "data": json.dumps(fake_push.delivered()[-1].payload)})
        wait_for(lambda: [n for n in page.evaluate(NOTIFICATIONS) if n["tag"] == f"dispatch-{second_id}"],
                 "the second notification")
        with page.expect_navigation(url=f"**/dispatches/{second_id}**"):
            page.evaluate(POST_CLICK, [f"dispatch-{second_id}", ""])  # the page goes: no answer to wait for
        session.expire_all()
        assert session.get(Dispatch, second_id).status == DispatchStatus.PENDING  # opening is not acknowledging
        assert errors == []
    finally:
        context.close()


def test_the_device_page_says_when_the_browser_blocks_notifications(
        app, live_server, chromium, session, create_user, vapid):  # noqa: F811
    user = create_user("outreach")
    context = chromium.new_context(viewport=PHONE, locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server, user.email)
        page.goto(f"{live_server}/me/device")
        page.wait_for_selector("#push-status[data-state='off']")
        # The person refused notifications in the browser's settings (a browser-wide setting: a
        # DevTools session of the browser sets it for this context).
        target = context.new_cdp_session(page).send("Target.getTargetInfo")["targetInfo"]
        chromium.new_browser_cdp_session().send("Browser.setPermission", {
            "permission": {"name": "notifications"}, "setting": "denied", "origin": live_server,
            "browserContextId": target["browserContextId"]})
        page.reload()
        page.wait_for_selector("#push-status[data-state='blocked']", timeout=5000)
        assert "Blockerad av webbläsaren" in page.inner_text("#push-status")
        assert page.is_hidden("#push-on") and page.is_hidden("#push-off")
        assert errors == []
    finally:
        context.close()
