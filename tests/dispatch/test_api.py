"""The dispatch and messages API: create, list, acknowledge, cancel; refusals say what to fix."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crisis.auth.services import create_token
from crisis.dispatch.models import Dispatch, DispatchStatus


@pytest.fixture
def bearer(session):
    def factory(user) -> dict:
        issued = create_token(session, user, "test")
        session.commit()
        return {"Authorization": f"Bearer {issued.token}", "Accept-Language": "en"}

    return factory


def post(client, path, headers, body=None):
    return client.post(path, headers=headers, data=json.dumps(body or {}), content_type="application/json")


def test_coordinator_dispatches_a_team(client, session, create_world, bearer):
    world = create_world(3)
    response = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", bearer(world.coordinator),
                    {"team_id": world.team.id})

    assert response.status_code == 201
    [item] = response.json["items"]
    assert item["status"] == "pending" and item["team_id"] == world.team.id
    assert item["ref"] == f"{world.incident.reference}-{item['id']}"
    assert [a["user_id"] for a in item["attempts"]] == [world.members[0].id]
    assert item["attempts"][0]["message_status"] == "queued"
    assert world.members[0].phone not in response.get_data(as_text=True)


def test_coordinator_dispatches_named_staff(client, create_world, bearer):
    world = create_world(3)
    response = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", bearer(world.coordinator),
                    {"user_ids": [world.members[2].id, world.members[0].id], "escalation_team_id": world.team.id})

    assert response.status_code == 201
    assert [i["user_id"] for i in response.json["items"]] == [world.members[2].id, world.members[0].id]


@pytest.mark.parametrize(("body", "detail"), [
    ({}, "either team_id"),
    ({"team_id": 1, "user_ids": [1]}, "either team_id"),
    ({"team_id": "one"}, "team_id must be a positive integer"),
    ({"team_id": 999_999}, "No team with id 999999"),
    ({"user_ids": []}, "non-empty list"),
    ({"user_ids": ["x"]}, "non-empty list"),
    ({"team_id": "TEAM", "purpose": "party"}, "purpose must be one of"),
    ({"team_id": "TEAM", "purpose": "visit"}, "names the visit's task"),
])
def test_bad_dispatch_requests_get_422_saying_what_to_fix(client, session, create_world, bearer, body, detail):
    world = create_world(2)
    body = {k: (world.team.id if v == "TEAM" else v) for k, v in body.items()}
    response = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", bearer(world.coordinator), body)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert detail in response.json["detail"]
    assert session.scalar(select(Dispatch)) is None


def test_outreach_staff_cannot_dispatch(client, create_world, bearer):
    world = create_world(2)
    response = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", bearer(world.members[0]),
                    {"team_id": world.team.id})
    assert response.status_code == 403


def test_unknown_incident_is_404(client, create_world, bearer):
    world = create_world(1)
    response = post(client, "/api/v1/incidents/999999/dispatches", bearer(world.coordinator),
                    {"team_id": world.team.id})
    assert response.status_code == 404


def test_lists_filter_by_status_and_show_outreach_only_their_alerts(client, create_world, bearer):
    world = create_world(2)
    other = create_world(2)
    coordinator = bearer(world.coordinator)
    mine = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", coordinator,
                {"team_id": world.team.id}).json["items"][0]
    post(client, f"/api/v1/incidents/{other.incident.id}/dispatches", bearer(other.coordinator),
         {"team_id": other.team.id})

    assert len(client.get("/api/v1/dispatches?status=open", headers=coordinator).json["items"]) == 2
    assert client.get("/api/v1/dispatches?status=acknowledged", headers=coordinator).json["items"] == []
    assert client.get("/api/v1/dispatches?status=maybe", headers=coordinator).status_code == 400
    assert client.get("/api/v1/dispatches?limit=0", headers=coordinator).status_code == 422
    per_incident = client.get(f"/api/v1/incidents/{world.incident.id}/dispatches", headers=coordinator)
    assert [i["id"] for i in per_incident.json["items"]] == [mine["id"]]
    member = bearer(world.members[0])
    assert [i["id"] for i in client.get("/api/v1/dispatches", headers=member).json["items"]] == [mine["id"]]


def test_alerted_staff_acknowledge_and_a_stranger_gets_404(client, session, create_world, create_staff, bearer):
    world = create_world(2)
    item = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", bearer(world.coordinator),
                {"team_id": world.team.id}).json["items"][0]
    stranger = bearer(create_staff("outreach"))

    assert post(client, f"/api/v1/dispatches/{item['id']}/acknowledge", stranger).status_code == 404
    response = post(client, f"/api/v1/dispatches/{item['id']}/acknowledge", bearer(world.members[0]))
    assert response.status_code == 200
    assert response.json["status"] == "acknowledged"
    assert response.json["acknowledged_by_id"] == world.members[0].id
    # Idempotent: acknowledging again answers with the same state.
    again = post(client, f"/api/v1/dispatches/{item['id']}/acknowledge", bearer(world.members[0]))
    assert again.status_code == 200 and again.json["acknowledged_by_id"] == world.members[0].id


def test_cancel_once_then_409(client, session, create_world, bearer):
    world = create_world(2)
    coordinator = bearer(world.coordinator)
    item = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", coordinator,
                {"team_id": world.team.id}).json["items"][0]

    assert post(client, f"/api/v1/dispatches/{item['id']}/cancel", bearer(world.members[0])).status_code == 403
    assert post(client, f"/api/v1/dispatches/{item['id']}/cancel", coordinator).json["status"] == "cancelled"
    assert post(client, f"/api/v1/dispatches/{item['id']}/cancel", coordinator).status_code == 409
    assert post(client, f"/api/v1/dispatches/{item['id']}/acknowledge", coordinator).status_code == 409
    assert session.get(Dispatch, item["id"]).status == DispatchStatus.CANCELLED


def test_messages_api_shows_texts_without_numbers(client, create_world, bearer):
    world = create_world(1)
    coordinator = bearer(world.coordinator)
    item = post(client, f"/api/v1/incidents/{world.incident.id}/dispatches", coordinator,
                {"team_id": world.team.id}).json["items"][0]

    listing = client.get(f"/api/v1/messages?dispatch_id={item['id']}", headers=coordinator)
    assert listing.status_code == 200
    [message] = listing.json["items"]
    assert message["recipient"] == f"staff {world.members[0].id}"
    assert world.members[0].phone not in listing.get_data(as_text=True)
    detail = client.get(f"/api/v1/messages/{message['id']}", headers=coordinator).json
    assert [h["status"] for h in detail["status_history"]] == ["queued"]
    assert client.get("/api/v1/messages?status=lost", headers=coordinator).status_code == 400
    assert client.get("/api/v1/messages", headers=bearer(world.members[0])).status_code == 403


def test_every_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/incidents/{incident_id}/dispatches", "/dispatches", "/dispatches/{dispatch_id}",
                 "/dispatches/{dispatch_id}/acknowledge", "/dispatches/{dispatch_id}/cancel",
                 "/messages", "/messages/{message_id}"):
        assert path in paths
