"""The live dashboard's API: catching up on events, and the dashboard's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisis.auth.models import Availability
from crisis.auth.services import create_token, deactivate_user, set_availability
from crisis.dispatch.models import Dispatch
from crisis.live.dashboard import RESYNC_OVERLAP
from crisis.tasks.models import Task
from crisis.timeline.models import TimelineEvent
from crisis.timeline.services import record_event


@pytest.fixture
def api_as(client, session):
    """Call the API with a bearer token of `user`."""

    def call(user, path: str, **params):
        token = create_token(session, user).token
        session.commit()
        return client.get(path, query_string=params, headers={"Authorization": f"Bearer {token}"})

    return call


def add_task(session, incident, status="open", due_in: timedelta | None = None, now: datetime | None = None):
    now = now or datetime.now(UTC)
    task = Task(incident_id=incident.id, title={"sv": "Uppgift", "en": "Task"}, category="outreach",
                status=status, due_at=now + due_in if due_in is not None else None,
                completed_at=now if status == "done" else None)
    session.add(task)
    session.commit()
    return task


def add_dispatch(session, incident, user, status):
    session.add(Dispatch(incident_id=incident.id, user_id=user.id, status=status))
    session.commit()


def add_event(session, incident=None, summary="Something changed", occurred_at=None) -> TimelineEvent:
    event = record_event(session, kind="incident" if incident else "staff", type="test.changed",
                         incident_id=incident.id if incident else None, summary=summary)
    if occurred_at is not None:
        event.occurred_at = occurred_at
    session.commit()
    return event


# -- the dashboard ------------------------------------------------------------------


def test_dashboard_counts_tasks_relatives_and_dispatches(api_as, create_user, create_incident, create_relative,
                                                         session):
    coordinator, worker = create_user("coordinator"), create_user("outreach")
    incident = create_incident(assigned=[worker])
    now = datetime.now(UTC)
    add_task(session, incident, "open", now=now)
    add_task(session, incident, "open", due_in=timedelta(hours=-1), now=now)  # overdue
    add_task(session, incident, "blocked", due_in=timedelta(minutes=-5), now=now)  # overdue
    add_task(session, incident, "in_progress", due_in=timedelta(hours=2), now=now)  # next deadline
    add_task(session, incident, "open", due_in=timedelta(hours=5), now=now)
    add_task(session, incident, "done", due_in=timedelta(hours=-3), now=now)  # done: neither open nor overdue
    add_task(session, incident, "not_applicable", due_in=timedelta(hours=-3), now=now)
    reached = create_relative(incident, consent="given")
    reached.first_contact_at = now - timedelta(minutes=30)
    create_relative(incident)
    create_relative(incident, is_child=True)
    session.commit()
    for status in ("acknowledged", "acknowledged", "pending", "exhausted", "cancelled"):
        add_dispatch(session, incident, worker, status)

    response = api_as(coordinator, "/api/v1/dashboard")

    assert response.status_code == 200
    (card,) = response.json["incidents"]
    assert card["reference"] == incident.reference
    assert (card["open_tasks"], card["overdue_tasks"]) == (5, 2)
    assert datetime.fromisoformat(card["next_due_at"]) == now + timedelta(hours=2)
    assert (card["relatives"], card["relatives_reached"]) == (3, 1)
    assert (card["dispatches_acknowledged"], card["dispatches_pending"], card["dispatches_exhausted"]) == (2, 1, 1)


def test_dashboard_lists_active_incidents_newest_first(api_as, create_user, create_incident):
    coordinator = create_user("coordinator")
    now = datetime.now(UTC)
    older = create_incident(activated_at=now - timedelta(hours=3))
    newer = create_incident(activated_at=now - timedelta(hours=1))
    create_incident(status="follow_up")
    create_incident(status="closed")
    cards = api_as(coordinator, "/api/v1/dashboard").json["incidents"]
    assert [c["id"] for c in cards] == [newer.id, older.id]
    assert all(c["open_tasks"] == 0 and c["next_due_at"] is None for c in cards)


def test_outreach_sees_only_assigned_incidents_and_no_teams(api_as, create_user, create_incident, create_team,
                                                            create_district):
    worker, colleague = create_user("outreach"), create_user("outreach")
    create_team(create_district(), [worker, colleague])
    mine = create_incident(assigned=[worker])
    create_incident(assigned=[colleague])
    body = api_as(worker, "/api/v1/dashboard").json
    assert [c["id"] for c in body["incidents"]] == [mine.id]
    assert body["teams"] == []


def test_teams_in_on_call_order_with_availability(api_as, create_user, create_team, create_district, session):
    coordinator = create_user("coordinator")
    first, second, gone = create_user("outreach"), create_user("outreach"), create_user("outreach")
    set_availability(session, second, Availability.BUSY)
    deactivate_user(session, gone)
    session.commit()
    team = create_team(create_district(name="Farsta"), [first, second, gone], name="SIG Farsta")
    (view,) = api_as(coordinator, "/api/v1/dashboard").json["teams"]
    assert view["id"] == team.id and view["district"] == "Farsta"
    assert [(m["user_id"], m["position"], m["availability"]) for m in view["members"]] == [
        (first.id, 1, "available"), (second.id, 2, "busy")]
    assert view["available"] == 1


def test_dashboard_never_carries_relatives_names_or_numbers(api_as, client, create_user, create_incident,
                                                            create_relative, logged_in):
    coordinator = create_user("coordinator")
    incident = create_incident()
    create_relative(incident, name="Karin Ödmansson", phone="+46701234567", label="Anhörig 7")
    bodies = [
        api_as(coordinator, "/api/v1/dashboard").get_data(as_text=True),
        api_as(coordinator, f"/api/v1/dashboard/incidents/{incident.id}").get_data(as_text=True),
    ]
    logged_in("coordinator")
    bodies.append(client.get("/dashboard").get_data(as_text=True))
    bodies.append(client.get(f"/dashboard/incidents/{incident.id}/card").get_data(as_text=True))
    for body in bodies:
        assert incident.reference in body
        for secret in ("Karin", "Ödmansson", "0701234567", "701234567", "Anhörig 7"):
            assert secret not in body


def test_incident_figures_whatever_the_status(api_as, create_user, create_incident):
    coordinator, worker = create_user("coordinator"), create_user("outreach")
    closed = create_incident(status="closed")
    other = create_incident()
    assert api_as(coordinator, f"/api/v1/dashboard/incidents/{closed.id}").json["status"] == "closed"
    refused = api_as(worker, f"/api/v1/dashboard/incidents/{other.id}")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert api_as(coordinator, "/api/v1/dashboard/incidents/987654").status_code == 404
    assert api_as(coordinator, "/api/v1/dashboard/incidents/99999999999").status_code == 404


def test_dashboard_figures_follow_a_task_update(api_as, activate, response_setup, session):
    from crisis.tasks.services import update_task

    incident = activate()
    coordinator = response_setup["coordinator"]
    before = api_as(coordinator, f"/api/v1/dashboard/incidents/{incident.id}").json
    task = session.query(Task).filter(Task.incident_id == incident.id, Task.status == "open").first()
    update_task(session, task, actor=coordinator, expected_version=task.version, status="done")
    session.commit()
    after = api_as(coordinator, f"/api/v1/dashboard/incidents/{incident.id}").json
    assert after["open_tasks"] == before["open_tasks"] - 1


# -- events -------------------------------------------------------------------------


def test_events_after_an_id_oldest_first(api_as, create_user, create_incident, session):
    coordinator = create_user("coordinator")
    incident = create_incident()
    events = [add_event(session, incident, f"Change {n}") for n in range(5)]
    staff = add_event(session, None, "Staff change")
    body = api_as(coordinator, "/api/v1/events", after=events[1].id).json
    assert [e["id"] for e in body["items"]] == [e.id for e in events[2:]] + [staff.id]
    assert body["items"][0] == {**events[2].as_json(), "summary": "Händelse: Changed"}  # rendered when read
    assert body["has_more"] is False
    assert api_as(coordinator, "/api/v1/events", after=staff.id).json == {"items": [], "has_more": False}


def test_events_are_paged(api_as, create_user, create_incident, session):
    coordinator = create_user("coordinator")
    incident = create_incident()
    ids = [add_event(session, incident).id for _ in range(5)]
    first = api_as(coordinator, "/api/v1/events", limit=2).json
    assert [e["id"] for e in first["items"]] == ids[:2] and first["has_more"] is True
    rest = api_as(coordinator, "/api/v1/events", after=ids[1], limit=3).json
    assert [e["id"] for e in rest["items"]] == ids[2:] and rest["has_more"] is False


def test_outreach_catches_up_only_on_their_incidents(api_as, create_user, create_incident, session):
    worker = create_user("outreach")
    mine, other = create_incident(assigned=[worker]), create_incident()
    coordinated = create_incident(coordinator=worker)
    wanted = [add_event(session, mine).id, add_event(session, coordinated).id]
    add_event(session, other)
    add_event(session, None, "Staff change")
    body = api_as(worker, "/api/v1/events").json
    assert [e["id"] for e in body["items"]] == wanted
    assert api_as(worker, "/api/v1/events", incident_id=other.id).status_code == 403
    only_mine = api_as(worker, "/api/v1/events", incident_id=mine.id).json
    assert [e["id"] for e in only_mine["items"]] == wanted[:1]


@pytest.mark.parametrize("params, needle", [
    ({"after": "-1"}, "after must be"),
    ({"after": "abc"}, "after must be a whole number"),
    ({"after": "1.5"}, "whole number"),
    ({"after": str(2**64)}, "after must be"),
    ({"incident_id": "0"}, "incident_id must be"),
])
def test_bad_event_queries_are_400_saying_what_to_fix(api_as, create_user, params, needle):
    response = api_as(create_user("coordinator"), "/api/v1/events", **params)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]


def test_events_need_a_login(client, create_user):
    assert client.get("/api/v1/events").status_code == 401
    assert client.get("/api/v1/dashboard").status_code == 401


def test_events_of_an_unknown_incident_are_404(api_as, create_user):
    assert api_as(create_user("manager"), "/api/v1/events", incident_id=987654).status_code == 404


def test_resume_point_trails_the_newest_events(api_as, create_user, create_incident, session):
    coordinator = create_user("coordinator")
    incident = create_incident()
    now = datetime.now(UTC)
    old = add_event(session, incident, occurred_at=now - RESYNC_OVERLAP - timedelta(seconds=5))
    add_event(session, incident, occurred_at=now - RESYNC_OVERLAP + timedelta(seconds=30))
    add_event(session, incident)
    assert api_as(coordinator, "/api/v1/dashboard").json["resume_after"] == old.id


def test_live_endpoints_are_documented(client):
    document = client.get("/api/v1/openapi.json").json
    paths, schemas = document["paths"], document["components"]["schemas"]
    assert {"/events", "/dashboard", "/dashboard/incidents/{incident_id}"} <= set(paths)
    assert paths["/events"]["get"]["operationId"] == "listEventsAfter"
    assert {"TimelineEvent", "DashboardIncident", "TeamAvailability"} <= set(schemas)


@pytest.mark.parametrize("limit, needle", [("0", "limit måste vara ett heltal från 1 till 500"),  # Swedish by default
                                           ("501", "limit får vara högst 500")])
def test_an_event_limit_out_of_bounds_is_422_naming_the_maximum(api_as, create_user, limit, needle):
    response = api_as(create_user("coordinator"), "/api/v1/events", limit=limit)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
