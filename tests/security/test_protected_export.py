"""Finding 8 (issue 14): the data-subject export of a protected identity takes two people, a substantive
reason, notifies the incident's coordinator, and every step is in the access log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crisis.auth.services import create_token
from crisis.core.db import db
from crisis.messaging.models import Message
from crisis.retention.models import ExportRequest
from crisis.timeline.models import AccessLog, TimelineEvent
from tests.conftest import csrf_token, login

REASON = "Begäran om registerutdrag, dnr 2026/1234"


@pytest.fixture
def protected(session, create_user, create_incident, create_relative):
    coordinator = create_user("coordinator", phone="+46701740605")
    incident = create_incident(coordinator=coordinator)
    relative = create_relative(incident, protected_identity=True, name="Skyddad Person", phone="+46701740655",
                               notes="Skyddad adress i Farsta")
    return relative


def ask(client, relative_id, reason=REASON):
    return client.post(f"/privacy/relatives/{relative_id}/export",
                       data={"reason": reason, "csrf_token": csrf_token(client, "/privacy")})


def post(client, path):
    return client.post(path, data={"csrf_token": csrf_token(client, "/privacy")})


def test_one_manager_alone_never_gets_a_protected_identity(app, create_user, protected):
    manager = create_user("manager")
    client = app.test_client()
    login(client, manager.email)
    response = ask(client, protected.id)
    assert response.status_code == 302
    assert "Skyddad Person" not in response.get_data(as_text=True)
    request_id = db.session.scalar(select(ExportRequest.id))
    # Approving one's own request is refused, and so is a download before approval.
    post(client, f"/privacy/export-requests/{request_id}/approve")
    download = post(client, f"/privacy/export-requests/{request_id}/download")
    assert download.status_code == 303 and "Skyddad" not in download.get_data(as_text=True)
    assert db.session.scalar(select(ExportRequest.status)) == "pending"


def test_a_second_person_approves_then_the_requester_downloads_once(app, create_user, protected):
    first, second = create_user("manager"), create_user("admin")
    asking, approving = app.test_client(), app.test_client()
    login(asking, first.email)
    login(approving, second.email)
    ask(asking, protected.id)
    request_id = db.session.scalar(select(ExportRequest.id))
    assert post(approving, f"/privacy/export-requests/{request_id}/approve").status_code == 302
    # The approver does not get the data either: only the one who asked downloads it.
    assert post(approving, f"/privacy/export-requests/{request_id}/download").status_code == 303
    response = post(asking, f"/privacy/export-requests/{request_id}/download")
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))
    assert data["relative"]["name"] == "Skyddad Person" and data["export"]["reason"] == REASON
    assert post(asking, f"/privacy/export-requests/{request_id}/download").status_code == 303  # once
    db.session.remove()
    steps = db.session.execute(select(AccessLog.action, AccessLog.user_id, AccessLog.reason)
                               .where(AccessLog.relative_id == protected.id).order_by(AccessLog.id)).all()
    assert [(a, u) for a, u, _r in steps] == [("export_requested", first.id), ("export_approved", second.id),
                                             ("data_subject_export", first.id)]
    assert all(r == REASON for _a, _u, r in steps)


@pytest.mark.parametrize("reason", ["abc", "registerutdrag", "Begäran från henne"])
def test_a_protected_export_needs_a_case_reference_or_twenty_characters(app, create_user, protected, reason):
    manager = create_user("manager")
    client = app.test_client()
    login(client, manager.email)
    ask(client, protected.id, reason=reason)
    assert db.session.scalar(select(ExportRequest.id)) is None


def test_a_case_reference_alone_is_enough(app, create_user, protected):
    manager = create_user("manager")
    client = app.test_client()
    login(client, manager.email)
    ask(client, protected.id, reason="dnr 2026/77")
    assert db.session.scalar(select(ExportRequest.id)) is not None


def test_the_coordinator_is_notified_without_names(app, create_user, protected):
    manager = create_user("manager")
    client = app.test_client()
    login(client, manager.email)
    ask(client, protected.id)
    db.session.remove()
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.type == "relative.export_requested"))
    assert event.incident_id == protected.incident_id  # reaches the coordinator's dashboard
    sms = db.session.scalar(select(Message).where(Message.purpose == "export_notice"))
    coordinator_id = db.session.get(type(protected), protected.id).incident.coordinator_id
    assert sms.recipient_user_id == coordinator_id
    assert "Skyddad" not in sms.body and "0655" not in sms.body


def test_the_api_never_exports_a_protected_identity_in_one_call(client, create_user, protected, session):
    manager = create_user("manager")
    token = create_token(session, manager).token
    session.commit()
    response = client.post(f"/api/v1/relatives/{protected.id}/data-subject-export", json={"reason": REASON},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409 and "Skyddad" not in response.get_data(as_text=True)


def test_relatives_without_protected_identity_keep_the_one_step_export(app, create_user, create_incident,
                                                                       create_relative):
    relative = create_relative(create_incident(), name="Vanlig Person")
    manager = create_user("manager")
    client = app.test_client()
    login(client, manager.email)
    response = ask(client, relative.id, reason="abc")
    assert response.status_code == 200 and json.loads(response.get_data(as_text=True))["relative"]["name"] \
        == "Vanlig Person"
