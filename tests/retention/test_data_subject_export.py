"""The data-subject export (registerutdrag, GDPR art. 15) for managers, and the privacy page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crisis.auth.services import create_token
from crisis.core.db import db
from crisis.followups.models import FollowUp
from crisis.incidents.models import ConsentRecord
from crisis.messaging.models import Message
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.tasks.models import Task
from crisis.timeline.models import AccessLog, TimelineEvent
from crisis.timeline.services import log_access, record_event
from tests.conftest import csrf_token

REASON = "Begäran om registerutdrag, ärende 2026-123"


@pytest.fixture
def relative(session, create_incident, create_user, create_relative):
    coordinator = create_user("coordinator", name="Sara Samordnare")
    incident = create_incident(coordinator=coordinator)
    relative = create_relative(incident, consent="given", phone="+46701740699", name="Fatima Testsson",
                               notes="Rädd för hämnd")
    other = create_relative(incident, name="Någon Annan", phone="+46701740600")
    now = datetime.now(UTC)
    session.add(ConsentRecord(relative_id=relative.id, state="given", scope=["contact"], decided_at=now,
                              recorded_by_id=coordinator.id, note="Muntligt"))
    session.add(Task(incident_id=incident.id, relative_id=relative.id, title={"sv": "Första kontakt"},
                     category="outreach", note="Ring efter kl 16"))
    session.add(Task(incident_id=incident.id, relative_id=other.id, title={"sv": "Annan"}, category="outreach",
                     note="Inte hennes"))
    session.add(FollowUp(incident_id=incident.id, relative_id=relative.id, key="f1", label="1w",
                         due_at=now + timedelta(days=7), outcome_note="Nådd"))
    organisation = SupportOrganisation(code="bris", name="Bris", kind="civil_society")
    session.add(organisation)
    session.flush()
    session.add(Referral(relative_id=relative.id, organisation_id=organisation.id, note="Vill prata"))
    session.add(Message(direction="outbound", purpose="followup", to_number="+46701740699", body="Hej",
                        incident_id=incident.id, recipient_relative_id=relative.id, status="delivered"))
    log_access(session, user=coordinator, relative=relative, action="view")
    record_event(session, kind="relative", type="relative.added", actor=coordinator, incident_id=incident.id,
                 subject=relative, summary="Anhörig 1 added")
    session.commit()
    relative.incident.reference  # noqa: B018  (loaded now: the requests below start a fresh session)
    session.remove()  # a real request starts with an empty session (no half-built objects in it)
    return relative


def export(client, relative_id: int, reason: str = REASON):
    db.session.remove()
    return client.post(f"/privacy/relatives/{relative_id}/export",
                       data={"reason": reason, "csrf_token": csrf_token(client, "/privacy")})


def test_a_manager_downloads_everything_held_about_a_relative(client, logged_in, relative):
    manager = logged_in("manager")
    response = export(client, relative.id)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["relative"]["name"] == "Fatima Testsson" and data["relative"]["phone"] == "+46701740699"
    assert data["relative"]["notes"] == "Rädd för hämnd"
    assert [c["note"] for c in data["consent_history"]] == ["Muntligt"]
    assert data["consent_history"][0]["recorded_by"]["name"] == "Sara Samordnare"
    assert [t["note"] for t in data["tasks"]] == ["Ring efter kl 16"]  # not the other relative's
    assert [f["outcome_note"] for f in data["follow_ups"]] == ["Nådd"]
    assert [(r["organisation"], r["note"]) for r in data["referrals"]] == [("Bris", "Vill prata")]
    assert [(m["number"], m["body"]) for m in data["messages"]] == [("+46701740699", "Hej")]
    assert [a["action"] for a in data["access_log"]] == ["view", "data_subject_export"]
    assert "relative.added" in [e["type"] for e in data["timeline"]]
    assert data["export"]["generated_by"]["id"] == manager.id and data["export"]["reason"] == REASON
    assert "Någon Annan" not in response.get_data(as_text=True)


def test_the_export_is_logged_with_its_reason(client, logged_in, relative):
    manager = logged_in("manager")
    export(client, relative.id)
    entry = db.session.scalar(select(AccessLog).where(AccessLog.action == "data_subject_export"))
    assert (entry.user_id, entry.relative_id, entry.reason, entry.assigned) == (manager.id, relative.id, REASON,
                                                                                 False)
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.type == "relative.data_subject_export"))
    assert event.actor_id == manager.id and "Fatima" not in event.summary


def test_an_export_needs_a_reason(client, logged_in, relative):
    logged_in("admin")
    response = export(client, relative.id, reason="")
    assert response.status_code == 302
    assert db.session.scalar(select(AccessLog).where(AccessLog.action == "data_subject_export")) is None


@pytest.mark.parametrize("role", ["coordinator", "outreach"])
def test_only_managers_and_admins_export(client, logged_in, relative, role):
    logged_in(role)
    assert export(client, relative.id).status_code == 403


def test_a_protected_identity_is_never_listed_by_name_and_not_exported_by_one_person(
        client, logged_in, create_relative, relative, session):
    from crisis.incidents.models import Incident

    incident = session.scalar(select(Incident))
    protected = create_relative(incident, protected_identity=True, name="Skyddad Person", phone="+46701740655")
    session.remove()
    logged_in("manager")
    page = client.get(f"/privacy?reference={relative.incident.reference}").get_data(as_text=True)
    assert "Skyddad Person" not in page and "Fatima" not in page  # labels only
    response = export(client, protected.id, reason="Begäran om registerutdrag, dnr 2026/1234")
    assert response.status_code == 302 and "Skyddad Person" not in response.get_data(as_text=True)
    # The two-person flow: tests/security/test_protected_export.py


@pytest.mark.parametrize("query", ["phone=070-174 06 99", "name=fatima  testsson", "reference={ref}"])
def test_the_manager_finds_the_relative_and_the_search_is_logged(client, logged_in, relative, query):
    manager = logged_in("manager")
    field, _, value = query.format(ref=relative.incident.reference).partition("=")
    page = client.post("/privacy", data={field: value, "csrf_token": csrf_token(client, "/privacy")}
                       ).get_data(as_text=True)
    assert f"/privacy/relatives/{relative.id}/export" in page
    found = db.session.scalars(select(AccessLog).where(AccessLog.action == "found_in_search",
                                                       AccessLog.user_id == manager.id)).all()
    assert relative.id in {f.relative_id for f in found}


def test_a_bad_phone_number_in_the_search_says_what_to_fix(client, logged_in, relative):
    logged_in("manager")
    response = client.post("/privacy", data={"phone": "abc", "csrf_token": csrf_token(client, "/privacy")})
    assert response.status_code == 200
    assert "+46701234567" in response.get_data(as_text=True)


def test_the_api_export_for_bearer_tokens(client, create_user, relative, session):
    manager = create_user("manager")
    token = create_token(session, manager).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    session.remove()
    response = client.post(f"/api/v1/relatives/{relative.id}/data-subject-export", json={"reason": REASON},
                           headers=headers)
    assert response.status_code == 200 and response.json["relative"]["name"] == "Fatima Testsson"
    missing = client.post(f"/api/v1/relatives/{relative.id}/data-subject-export", json={}, headers=headers)
    assert missing.status_code == 422 and "reason" in missing.json["detail"]
    assert client.post("/api/v1/relatives/99999/data-subject-export", json={"reason": REASON},
                       headers=headers).status_code == 404
