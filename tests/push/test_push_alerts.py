"""Push alerts before SMS (issue 16, item 4), end to end against a stand-in push service.

The push goes through pywebpush to tests/fake_push.py, which checks the VAPID signature and
decrypts the payload with the subscription's keys, as a real push service and browser would.
The SMS are sent by the real sender sweep into a recording outbox gateway.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.core.db import utcnow
from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.dispatch.services import dispatch_staff, dispatch_team, escalate_due_dispatches
from crisis.eventtext.render import render
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.sender import run_sender_sweep
from crisis.push import services
from crisis.push.models import PushAlert, PushAlertStatus, PushSubscription
from crisis.timeline.models import TimelineEvent
from tests.conftest import login


def subscribe(app, session, user, subscription: dict) -> PushSubscription:
    row = services.subscribe(session, user, endpoint=subscription["endpoint"],
                             p256dh=subscription["keys"]["p256dh"], auth=subscription["keys"]["auth"],
                             device_label="Chrome / Android")
    session.commit()
    return row


def dispatch(app, session, world):
    with app.app_context():
        made = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        session.commit()
    return made


def alert_sms(session, dispatch_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.dispatch_id == dispatch_id).order_by(Message.id)))


def sweep(session, gateway, sender_settings, no_pacing, *, after: timedelta = timedelta(0)):
    return run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=utcnow() + after)


def strings_in(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [str(value)]


def test_the_alert_goes_by_push_signed_and_encrypted_without_name_phone_or_address_and_one_tap_acknowledges(
        app, session, client, create_world, vapid, fake_push, recording_gateway, sender_settings, no_pacing):
    world = create_world(2)
    worker = world.members[0]
    world.incident.place = "Storgatan 12, Farsta"
    session.commit()
    subscribe(app, session, worker, fake_push.new_subscription())
    before = utcnow()
    made = dispatch(app, session, world)

    # The push service got one request, signed by this server and readable only by the browser.
    [got] = fake_push.delivered()
    assert got.vapid_key == vapid
    assert got.claims["aud"] == fake_push.origin and got.claims["sub"] == "mailto:krisstod-test@example.se"
    assert got.headers["urgency"] == "high"
    payload = got.payload
    assert payload["type"] == "dispatch" and payload["ref"] == made.reference
    assert payload["kind"] == "skjutning" and payload["action"] == "Kvittera – jag tar det"
    assert payload["url"].startswith("/d/") and payload["ack_token"]
    # Exactly like the SMS: no name, no phone, no address, no e-mail, of anyone.
    text = json.dumps(payload, ensure_ascii=False)
    for person in (worker, world.coordinator, *world.members):
        for secret in (person.name, person.phone, person.email):
            assert secret and secret not in text
    assert "Storgatan" not in text and "Farsta" not in " ".join(strings_in(payload))
    assert set(payload) <= {"v", "type", "ref", "kind", "url", "lang", "title", "body", "action", "acked",
                            "ack_failed", "tag", "ack_token", "ack_url"}

    # The SMS is written, held back for the push: the sender sends nothing yet.
    [sms] = alert_sms(session, made.id)
    assert sms.status == MessageStatus.QUEUED
    assert sms.next_attempt_at >= before + timedelta(seconds=59)
    assert made.ack_deadline_at - made.created_at == timedelta(minutes=10)  # escalation timing unchanged
    gateway = recording_gateway()
    sweep(session, gateway, sender_settings, no_pacing)
    assert gateway.sent == []

    # "Kvittera – jag tar det": the service worker posts the token, without a session or CSRF token.
    response = client.post("/push/ack", json={"token": payload["ack_token"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"outcome": "acknowledged", "ref": made.reference}
    session.expire_all()
    acknowledged = session.get(Dispatch, made.id)
    assert acknowledged.status == DispatchStatus.ACKNOWLEDGED and acknowledged.acknowledged_by_id == worker.id
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.acknowledged"))
    assert event.data["via"] == "push"
    with app.app_context():  # the timeline and the case file say how
        assert "(kvitterad via push)" in render(event, "sv", session)
        assert "(acknowledged via push)" in render(event, "en", session)
    [sms] = alert_sms(session, made.id)
    assert sms.status == MessageStatus.FAILED and sms.error_code == services.SAVED_CODE
    alert = session.scalar(select(PushAlert))
    assert alert.sms_saved and alert.acknowledged_via == "push" and alert.status == PushAlertStatus.SENT

    # The held SMS never goes, not even after the window; the token works once.
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(minutes=2))
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(minutes=3))
    assert gateway.sent == []
    again = client.post("/push/ack", json={"token": payload["ack_token"]})
    assert again.status_code == 404
    assert client.post("/push/ack", json={"token": "guess"}).status_code == 404
    assert client.post("/push/ack", data="x").status_code == 400


def test_without_acknowledgement_the_sms_goes_exactly_once_after_the_window(
        app, session, client, create_world, vapid, fake_push, recording_gateway, sender_settings, no_pacing):
    world = create_world(2)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    made = dispatch(app, session, world)
    token = fake_push.delivered()[0].payload["ack_token"]
    gateway = recording_gateway()
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(seconds=30))
    assert gateway.sent == []
    # Two senders after the window: one text.
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(seconds=61))
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(seconds=62))
    assert len(gateway.sent) == 1
    assert gateway.sent[0].to == world.members[0].phone
    # A late tap on the notification still acknowledges, and sends nothing more.
    assert client.post("/push/ack", json={"token": token}).json["outcome"] == "acknowledged"
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(minutes=5))
    assert len(gateway.sent) == 1
    session.expire_all()
    alert = session.scalar(select(PushAlert))
    assert alert.acknowledged_via == "push" and not alert.sms_saved
    assert len(alert_sms(session, made.id)) == 1


def test_escalation_alerts_go_by_push_first_too(app, session, create_world, vapid, fake_push, recording_gateway,
                                                sender_settings, no_pacing):
    world = create_world(2)
    for member in world.members:
        subscribe(app, session, member, fake_push.new_subscription())
    made = dispatch(app, session, world)
    with app.app_context():
        assert escalate_due_dispatches(session, now=made.ack_deadline_at + timedelta(seconds=1)) == 1
    pushes = [r.payload for r in fake_push.delivered()]
    assert [p["title"] for p in pushes] == [f"Larm {made.reference}", f"Obekräftat larm {made.reference}"]
    assert pushes[0]["ack_token"] != pushes[1]["ack_token"]
    alerts = session.scalars(select(PushAlert).order_by(PushAlert.id)).all()
    assert [(a.level, a.kind, a.user_id) for a in alerts] == [
        (0, "dispatch", world.members[0].id), (1, "dispatch_escalation", world.members[1].id)]


def test_without_a_subscription_the_sms_goes_at_once_as_before(
        app, session, create_world, vapid, fake_push, recording_gateway, sender_settings, no_pacing):
    world = create_world(2)
    made = dispatch(app, session, world)
    [sms] = alert_sms(session, made.id)
    assert sms.next_attempt_at == sms.created_at
    assert session.scalar(select(PushAlert)) is None and fake_push.received == []
    gateway = recording_gateway()
    sweep(session, gateway, sender_settings, no_pacing)
    assert len(gateway.sent) == 1


def test_without_vapid_keys_nothing_is_held(app, session, create_world, fake_push):
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    made = dispatch(app, session, world)
    [sms] = alert_sms(session, made.id)
    assert sms.next_attempt_at == sms.created_at and fake_push.received == []


@pytest.mark.parametrize("answer", [404, 410])
def test_a_gone_subscription_is_removed_and_the_sms_goes_at_once(
        app, session, client, create_world, vapid, fake_push, recording_gateway, sender_settings, no_pacing,
        answer, caplog):
    world = create_world(1, can_log_in=True)
    worker = world.members[0]
    row = subscribe(app, session, worker, fake_push.new_subscription(answer=answer))
    made = dispatch(app, session, world)
    assert [r.answered for r in fake_push.received] == [answer]
    session.expire_all()
    row = session.get(PushSubscription, row.id)
    assert row.removed_reason == "gone" and row.removed_at is not None and row.last_failure == f"http_{answer}"
    assert session.scalar(select(PushAlert)).status == PushAlertStatus.FAILED
    gateway = recording_gateway()
    sweep(session, gateway, sender_settings, no_pacing)  # at once, not after the window
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(seconds=90))
    assert len(gateway.sent) == 1 and len(alert_sms(session, made.id)) == 1
    assert session.scalar(select(TimelineEvent).where(TimelineEvent.type == "push.removed")) is not None
    # Logged by id: the endpoint (a capability URL) and the keys never reach a log line.
    assert f"subscription {row.id} refused: HTTP {answer}" in caplog.text
    device = fake_push.received[0].path.rsplit("/", 1)[-1]
    assert device not in caplog.text and row.p256dh not in caplog.text and row.auth not in caplog.text
    # The next alert does not try the removed device.
    with app.app_context():
        assert services.push_ready_users(session, [worker.id]) == set()
    login(client, worker.email)
    page = client.get("/me/device").get_data(as_text=True)
    assert "pushtjänsten meddelade att prenumerationen inte längre finns" in page


def test_one_device_gone_and_one_working_still_holds_the_sms(
        app, session, create_world, vapid, fake_push, recording_gateway, sender_settings, no_pacing):
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription(answer=410))
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    made = dispatch(app, session, world)
    assert sorted(r.answered for r in fake_push.received) == [201, 410]
    alert = session.scalar(select(PushAlert))
    assert alert.status == PushAlertStatus.SENT and alert.devices == 1
    gateway = recording_gateway()
    sweep(session, gateway, sender_settings, no_pacing)
    assert gateway.sent == [] and alert_sms(session, made.id)[0].status == MessageStatus.QUEUED


def test_named_staff_dispatches_hold_their_sms_for_push_too(app, session, create_world, vapid, fake_push):
    world = create_world(2)
    subscribe(app, session, world.members[1], fake_push.new_subscription())
    with app.app_context():
        made = dispatch_staff(session, incident=world.incident, users=world.members, actor=world.coordinator)
        session.commit()
    held = {m.recipient_user_id: m.next_attempt_at > m.created_at
            for d in made for m in alert_sms(session, d.id)}
    assert held == {world.members[0].id: False, world.members[1].id: True}
    assert [r.payload["ref"] for r in fake_push.delivered()] == [made[1].reference]


def test_a_push_lost_after_the_commit_is_sent_by_the_sweep(app, session, create_world, vapid, fake_push,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "PUSH_SEND_MODE", "off")  # as if the process stopped after the commit
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    dispatch(app, session, world)
    assert fake_push.received == []
    with app.app_context():
        assert services.send_overdue_pushes(session, services.push_config(), now=utcnow() + timedelta(seconds=6)) == 1
        assert services.send_overdue_pushes(session, services.push_config(), now=utcnow() + timedelta(seconds=7)) == 0
    assert len(fake_push.delivered()) == 1


def test_cancelled_before_the_push_went_nothing_is_pushed(app, session, create_world, vapid, fake_push,
                                                          monkeypatch):
    from crisis.dispatch.services import cancel_dispatch

    monkeypatch.setitem(app.config, "PUSH_SEND_MODE", "off")
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    made = dispatch(app, session, world)
    with app.app_context():
        cancel_dispatch(session, session.get(Dispatch, made.id), actor=world.coordinator)
        session.commit()
        services.send_overdue_pushes(session, services.push_config(), now=utcnow() + timedelta(seconds=6))
    assert fake_push.received == []


def test_the_outbox_page_and_the_report_count_pushes_acknowledgements_and_saved_sms(
        app, session, client, create_world, create_user, vapid, fake_push):
    world = create_world(3, can_log_in=True)
    for member in world.members:
        subscribe(app, session, member, fake_push.new_subscription())
    first = dispatch(app, session, world)
    token = fake_push.delivered()[0].payload["ack_token"]
    assert client.post("/push/ack", json={"token": token}).status_code == 200
    dispatch(app, session, world)  # pushed, not acknowledged (yet)
    login(client, world.coordinator.email)
    page = client.get("/sms").get_data(as_text=True)
    assert ("Pushlarm: 2 larm gick via push, 1 kvitterades från notisen, 1 sms behövde inte skickas."
            in page), page
    assert "behövdes inte: kvitterat via push" in page
    assert first.reference
    client.post("/logout", data={})
    manager = create_user("manager")
    client2 = app.test_client()
    assert login(client2, manager.email).status_code == 302
    report = client2.get("/reports").get_data(as_text=True)
    assert "Pushlarm per månad (hela staden)" in report
    month = utcnow().strftime("%Y-%m")
    row = report[report.index(f"<th scope=\"row\">{month}</th>"):]
    row = row[:row.index("</tr>")]
    assert [cell.split(">")[1] for cell in row.split("<td class=\"num\"")[1:]] == ["2</td", "1</td", "1</td"]


def test_a_rolled_back_alert_pushes_nothing_and_the_next_one_still_goes(app, session, create_world, vapid,
                                                                         fake_push):
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    with app.app_context():
        dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        session.rollback()
        assert fake_push.received == []
        made = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        session.commit()
        reference = made.reference
    assert [r.payload["ref"] for r in fake_push.delivered()] == [reference]


def test_by_default_the_push_goes_from_a_thread_of_its_own_after_the_commit(app, session, create_world, vapid,
                                                                            fake_push, monkeypatch):
    import time

    monkeypatch.setitem(app.config, "PUSH_SEND_MODE", "thread")
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    dispatch(app, session, world)
    deadline = time.monotonic() + 10
    while not fake_push.delivered() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_push.delivered()) == 1
    while time.monotonic() < deadline:
        session.expire_all()
        if session.scalar(select(PushAlert.status)) == PushAlertStatus.SENT:
            break
        time.sleep(0.05)
    assert session.scalar(select(PushAlert.status)) == PushAlertStatus.SENT


def test_a_send_that_died_midway_gives_way_to_the_sms(app, session, create_world, vapid, fake_push, monkeypatch,
                                                      recording_gateway, sender_settings, no_pacing):
    monkeypatch.setitem(app.config, "PUSH_SEND_MODE", "off")
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    made = dispatch(app, session, world)
    alert = session.scalar(select(PushAlert))
    alert.status, alert.claimed_at = PushAlertStatus.SENDING, utcnow() - timedelta(minutes=3)  # claimed, then killed
    session.commit()
    with app.app_context():
        services.send_overdue_pushes(session, services.push_config())
    session.expire_all()
    assert session.scalar(select(PushAlert.status)) == PushAlertStatus.FAILED
    gateway = recording_gateway()
    sweep(session, gateway, sender_settings, no_pacing)
    sweep(session, gateway, sender_settings, no_pacing, after=timedelta(minutes=2))
    assert len(gateway.sent) == 1 and len(alert_sms(session, made.id)) == 1
    assert fake_push.received == []  # the push is not repeated: the SMS goes instead


def test_an_sms_is_counted_as_saved_only_when_its_push_reached_a_device(app, session, create_world, vapid,
                                                                         fake_push):
    from crisis.dispatch.services import acknowledge_dispatch

    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription(answer=410))
    made = dispatch(app, session, world)
    with app.app_context():  # acknowledged on the web before the released SMS went
        acknowledge_dispatch(session, session.get(Dispatch, made.id), user=world.members[0], via="app")
        session.commit()
    [sms] = alert_sms(session, made.id)
    assert sms.status == MessageStatus.FAILED and sms.error_code == "acknowledged"
    assert not session.scalar(select(PushAlert)).sms_saved
    with app.app_context():
        assert services.push_figures(session) == services.PushFigures(pushed=0, acknowledged=0, sms_saved=0)


def test_the_push_sweep_runs_as_a_scheduler_job(app, session, create_world, vapid, fake_push, monkeypatch):
    from crisis.push import services as push_services
    from crisis.scheduler import _wrap, registered_jobs

    monkeypatch.setitem(app.config, "PUSH_SEND_MODE", "off")
    world = create_world(1)
    subscribe(app, session, world.members[0], fake_push.new_subscription())
    dispatch(app, session, world)
    job = {j.id: j for j in registered_jobs()}["push.send"]
    assert job.seconds == 5
    real = push_services.utcnow
    monkeypatch.setattr(push_services, "utcnow", lambda: real() + timedelta(seconds=6))
    _wrap(app, job)()
    assert len(fake_push.delivered()) == 1
