"""Protected identity (skyddade personuppgifter): shown only to the contact person and the incident's
coordinator, masked everywhere else, never an SMS, every opening logged with a reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crisis.auth.services import create_token
from crisis.core.db import db
from crisis.incidents.models import ConsentRecord, Relative
from crisis.messaging.models import Direction, Message
from crisis.messaging.services import SmsRefused, queue_sms, queue_sms_to_relative, receive_inbound
from crisis.timeline.models import AccessLog

NAME = "Hemlig Hemligsson"
NUMBER = "+46701740655"
REASON = "Planerat uppföljningssamtal"


@pytest.fixture
def hidden(session, world):
    """The outreach worker's protected relative on incident A, with a name, number, notes and SMS consent."""
    from datetime import UTC, datetime

    relative = session.get(Relative, world.protected["outreach"].id)
    relative.name, relative.phone, relative.notes, relative.consent = NAME, NUMBER, "Bor hos syster", "given"
    from crisis.core.crypto import keyring

    relative.phone_digest = keyring.digest(NUMBER)
    session.add(ConsentRecord(relative_id=relative.id, state="given", scope=["contact", "sms"],
                              decided_at=datetime.now(UTC)))
    session.commit()
    db.session.remove()
    return db.session.get(Relative, relative.id)


def test_never_an_sms_even_with_consent_by_any_path(session, world, hidden):
    with pytest.raises(SmsRefused) as refused:
        queue_sms_to_relative(session, hidden, body="Hej", purpose="followup")
    assert refused.value.reason == "protected_identity"
    # Nor by its number or id, whoever calls the outbox directly.
    with pytest.raises(SmsRefused):
        queue_sms(session, to=NUMBER, body="Hej", purpose="followup")
    with pytest.raises(SmsRefused):
        queue_sms(session, to="+46701740999", body="Hej", purpose="followup", recipient_relative_id=hidden.id)


def test_a_text_from_a_protected_number_gets_no_automatic_reply(session, hidden):
    result = receive_inbound(session, {"MessageSid": "SM" + "9" * 32, "From": NUMBER, "To": "+46700000000",
                                       "Body": "HJÄLP"})
    session.commit()
    assert result.reply is None
    assert session.scalar(select(Message).where(Message.purpose == "reply")) is None


def test_only_the_contact_person_and_the_incidents_coordinator_open_the_record(world, hidden, browsers, app,
                                                                              logged_in):
    path = f"/relatives/{hidden.id}"
    for role in ("manager", "admin"):
        assert browsers[role].request("GET", path).status_code == 403
    other_coordinator = app.test_client()
    from tests.conftest import login

    login(other_coordinator, world.coord2.email)
    assert other_coordinator.get(path).status_code == 403
    for role in ("outreach", "coordinator"):
        page = browsers[role].request("GET", path).get_data(as_text=True)
        assert NAME not in page and "reason" in page  # the reason is asked first
        page = browsers[role].request("POST", path, form={"reason": REASON}).get_data(as_text=True)
        assert NAME in page
        assert f"tel:{NUMBER}" not in page  # no call link, no SMS for a protected identity


def test_every_opening_is_logged_with_its_reason(world, hidden, browsers, session):
    browsers["outreach"].request("POST", f"/relatives/{hidden.id}", form={"reason": REASON})
    token = create_token(session, world.users["coordinator"]).token
    session.commit()
    client = browsers["coordinator"].client
    no_reason = client.get(f"/api/v1/relatives/{hidden.id}", headers={"Authorization": f"Bearer {token}"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["detail"]
    with_reason = client.get(f"/api/v1/relatives/{hidden.id}?reason={REASON}",
                             headers={"Authorization": f"Bearer {token}"})
    assert with_reason.status_code == 200 and with_reason.json["name"] == NAME
    db.session.remove()
    entries = db.session.scalars(select(AccessLog).where(AccessLog.relative_id == hidden.id)).all()
    assert [(e.user_id, e.reason) for e in entries] == [(world.users["outreach"].id, REASON),
                                                       (world.users["coordinator"].id, REASON)]


def test_the_name_appears_nowhere_else(world, hidden, browsers):
    w = world
    pages = ["/incidents", f"/incidents/{w.incident_a.id}", "/dashboard", f"/incidents/{w.incident_a.id}/timeline",
             f"/api/v1/incidents/{w.incident_a.id}", f"/api/v1/incidents/{w.incident_a.id}/relatives",
             f"/api/v1/incidents/{w.incident_a.id}/tasks", "/api/v1/dashboard", "/me/tasks"]
    exports = [f"/incidents/{w.incident_a.id}/timeline.csv", "/access-log", "/access-log.csv", "/reports"]
    for role, browser in browsers.items():
        for path in pages + (exports if role in ("manager", "admin") else []):
            response = browser.request("GET", path)
            text = response.get_data(as_text=True)
            assert NAME not in text and NUMBER not in text, f"{role} sees the protected identity on {path}"


def test_the_outbox_hides_texts_from_a_protected_identity(world, hidden, browsers, session):
    receive_inbound(session, {"MessageSid": "SM" + "8" * 32, "From": NUMBER, "To": "+46700000000",
                              "Body": "Jag bor nu på Storgatan 1"})
    session.commit()
    message_id = session.scalar(select(Message.id).where(Message.direction == Direction.INBOUND))
    for role in ("admin",):  # sees the outbox, is not the contact person
        browser = browsers[role]
        for path in ["/sms", f"/sms/{message_id}", "/api/v1/messages", f"/api/v1/messages/{message_id}"]:
            text = browser.request("GET", path).get_data(as_text=True)
            assert "Storgatan" not in text, f"{role} reads the protected identity's text on {path}"
    # The incident's coordinator reads it.
    assert "Storgatan" in browsers["coordinator"].request("GET", f"/sms/{message_id}").get_data(as_text=True)


def test_a_task_note_goes_only_where_the_relative_record_may(world, browsers, session):
    from crisis.tasks.models import Task

    task = session.get(Task, world.own_task_a["outreach"].id)
    task.relative_id = world.protected["manager"].id  # the manager's protected relative, not the worker's
    task.note = "Adress: Storgatan 1"
    session.commit()
    page = browsers["outreach"].request("GET", f"/tasks/{task.id}").get_data(as_text=True)
    assert "Storgatan" not in page
    assert browsers["outreach"].request("GET", f"/api/v1/tasks/{task.id}").json["note"] is None
    # Saving the task without seeing the note keeps it.
    browsers["outreach"].request("POST", f"/tasks/{task.id}", form={"status": "in_progress", "version": task.version})
    db.session.remove()
    kept = db.session.get(Task, task.id)
    assert kept.status.value == "in_progress" and kept.note == "Adress: Storgatan 1"
