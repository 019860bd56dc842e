"""The follow-up API: my week, one follow-up, a relative's schedule, outcome and reschedule."""

from __future__ import annotations

from datetime import datetime

import pytest

from crisis.core.db import utcnow
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.followups.services import Week
from tests.conftest import csrf_token
from tests.followups.helpers import events
from tests.followups.test_pages import this_week_at


@pytest.fixture
def api_setup(session, logged_in, create_user, create_incident, create_relative, followup_snapshot, client):
    worker = logged_in("outreach", phone="+46701440001")
    # Before the rows: a request ends the thread's session, and the rows below stay usable.
    headers = {"X-CSRFToken": csrf_token(client, "/followups/week")}
    coordinator = create_user("coordinator", phone="+46701440002")
    incident = create_incident(coordinator=coordinator, assigned=[worker], snapshot=followup_snapshot)
    relative = create_relative(incident, consent="given", contact_person_id=worker.id, name="Nour Testsson")
    session.expire_all()
    return {"worker": worker, "coordinator": coordinator, "incident": incident, "relative": relative,
            "headers": headers}


def test_my_week(client, api_setup, create_follow_up):
    relative, worker = api_setup["relative"], api_setup["worker"]
    this_week = create_follow_up(relative, label="1w", due_at=this_week_at(2), owner=worker)
    old = create_follow_up(relative, label="1d", due_at=this_week_at(-4), owner=worker)
    this_week_id, old_id, reference = this_week.id, old.id, api_setup["incident"].reference

    body = client.get("/api/v1/me/followups").get_json()

    assert body["week"] == str(Week.containing(utcnow()))
    assert [f["id"] for f in body["items"]] == [this_week_id]
    assert [f["id"] for f in body["overdue"]] == [old_id]
    item = body["items"][0]
    assert item["relative_label"] == "Anhörig 1" and item["incident_reference"] == reference
    assert item["status"] == "planned" and item["open"] is True and item["version"] == 1
    assert "outcome_note" not in item
    assert "Nour" not in str(body)


def test_week_parameters_are_checked(client, api_setup):
    assert client.get("/api/v1/me/followups?week=2026-W60").status_code == 422
    assert client.get("/api/v1/me/followups?week=soon").status_code == 422
    assert client.get("/api/v1/me/followups?week=9999-W52").status_code == 422
    assert client.get("/api/v1/me/followups?scope=all").status_code == 422
    body = client.get("/api/v1/me/followups?week=2026-w25&scope=coordinated").get_json()
    assert (body["week"], body["scope"], body["overdue"]) == ("2026-W25", "coordinated", [])


def test_get_one_with_etag_and_note(client, session, api_setup, create_follow_up):
    follow_up = create_follow_up(api_setup["relative"], due_at=this_week_at(2), owner=api_setup["worker"],
                                 outcome_note="Ring efter kl 16")
    response = client.get(f"/api/v1/followups/{follow_up.id}")

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.get_json()["outcome_note"] == "Ring efter kl 16"
    assert client.get("/api/v1/followups/999999").status_code == 404


def test_record_not_reached_then_reached(client, session, api_setup, create_follow_up):
    follow_up_id = create_follow_up(api_setup["relative"], due_at=this_week_at(2), owner=api_setup["worker"]).id
    url = f"/api/v1/followups/{follow_up_id}/outcome"

    first = client.post(url, json={"outcome": "not_reached", "version": 1}, headers=api_setup["headers"])
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "not_reached" and first.get_json()["version"] == 2
    second = client.post(url, json={"outcome": "reached", "channel": "visit", "note": "Hembesök"},
                         headers={**api_setup["headers"], "If-Match": '"2"'})
    assert second.status_code == 200
    assert second.headers["ETag"] == '"3"'
    session.expire_all()
    assert session.get(FollowUp, follow_up_id).status == FollowUpStatus.REACHED
    assert [e.type for e in events(session) if e.type.startswith("followup.")] == [
        "followup.not_reached", "followup.reached"]


def test_declined_lists_what_was_cancelled(client, api_setup, create_follow_up):
    relative, worker = api_setup["relative"], api_setup["worker"]
    first = create_follow_up(relative, due_at=this_week_at(2), owner=worker)
    rest = [create_follow_up(relative, due_at=this_week_at(n), owner=worker).id for n in (20, 40)]

    response = client.post(f"/api/v1/followups/{first.id}/outcome",
                           json={"outcome": "declined", "decline_reason": "no_need", "version": 1},
                           headers=api_setup["headers"])

    assert response.status_code == 200
    assert sorted(response.get_json()["cancelled_follow_up_ids"]) == sorted(rest)


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"outcome": "reached"}, 428, None),
    ({"outcome": "perhaps", "version": 1}, 422, "outcome"),
    ({"outcome": "declined", "version": 1}, 422, "decline_reason"),
    ({"outcome": "reached", "version": 1, "extra": True}, 422, None),
    ({"outcome": "reached", "version": 5}, 409, None),
])
def test_outcome_errors_say_what_to_fix(client, api_setup, create_follow_up, body, status, field):
    follow_up = create_follow_up(api_setup["relative"], due_at=this_week_at(2), owner=api_setup["worker"])

    response = client.post(f"/api/v1/followups/{follow_up.id}/outcome", json=body, headers=api_setup["headers"])

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["detail"]
    if field:
        assert field in {e["field"] for e in problem["errors"]}
    if status == 409:
        assert problem["current_version"] == 1


def test_a_stale_if_match_is_412(client, api_setup, create_follow_up):
    follow_up = create_follow_up(api_setup["relative"], due_at=this_week_at(2), owner=api_setup["worker"])
    response = client.post(f"/api/v1/followups/{follow_up.id}/outcome", json={"outcome": "reached"},
                           headers={**api_setup["headers"], "If-Match": '"4"'})
    assert response.status_code == 412


def test_without_csrf_a_cookie_session_is_refused(client, api_setup, create_follow_up):
    follow_up = create_follow_up(api_setup["relative"], due_at=this_week_at(2), owner=api_setup["worker"])
    response = client.post(f"/api/v1/followups/{follow_up.id}/outcome", json={"outcome": "reached", "version": 1})
    assert response.status_code == 403


def test_reschedule(client, session, api_setup, create_follow_up):
    follow_up_id = create_follow_up(api_setup["relative"], due_at=this_week_at(2), owner=api_setup["worker"]).id
    new_time = this_week_at(10, 15)

    response = client.post(f"/api/v1/followups/{follow_up_id}/reschedule",
                           json={"due_at": new_time.isoformat(), "reason": "interpreter_booking", "version": 1},
                           headers=api_setup["headers"])

    assert response.status_code == 200, response.get_json()
    assert datetime.fromisoformat(response.get_json()["due_at"]) == new_time
    session.expire_all()
    assert session.get(FollowUp, follow_up_id).due_at == new_time
    bad = client.post(f"/api/v1/followups/{follow_up_id}/reschedule",
                      json={"due_at": "2026-07-01T10:00", "reason": "other", "version": 2},
                      headers=api_setup["headers"])
    assert bad.status_code == 422
    assert bad.get_json()["field"] == "due_at" and "tidszon" in bad.get_json()["detail"]  # Swedish by default


def test_others_cannot_record_and_protected_relatives_stay_hidden(
        client, session, logged_in, create_incident, create_relative, create_follow_up, create_user,
        followup_snapshot):
    logged_in("manager")
    headers = {"X-CSRFToken": csrf_token(client, "/incidents")}
    incident = create_incident(snapshot=followup_snapshot)
    protected = create_relative(incident, consent="given", protected_identity=True)
    follow_up = create_follow_up(protected, due_at=this_week_at(1), owner=create_user("outreach"))
    follow_up_id, protected_id = follow_up.id, protected.id

    assert client.post(f"/api/v1/followups/{follow_up_id}/outcome", json={"outcome": "reached", "version": 1},
                       headers=headers).status_code == 403
    assert client.get(f"/api/v1/followups/{follow_up_id}").get_json()["relative_label"] is None
    assert client.get(f"/api/v1/relatives/{protected_id}/followups").status_code == 403


def test_a_relatives_schedule(client, api_setup, create_follow_up):
    relative, worker = api_setup["relative"], api_setup["worker"]
    ids = [create_follow_up(relative, due_at=this_week_at(n), owner=worker).id for n in (30, 1, 7)]

    body = client.get(f"/api/v1/relatives/{relative.id}/followups").get_json()

    assert [f["id"] for f in body["items"]] == [ids[1], ids[2], ids[0]]
    assert client.get("/api/v1/relatives/999999/followups").status_code == 404


def test_every_endpoint_is_documented(client, api_setup):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/me/followups"])
    assert {"get"} <= set(paths["/followups/{follow_up_id}"])
    assert {"post"} <= set(paths["/followups/{follow_up_id}/outcome"])
    assert {"post"} <= set(paths["/followups/{follow_up_id}/reschedule"])
    assert {"get"} <= set(paths["/relatives/{relative_id}/followups"])
