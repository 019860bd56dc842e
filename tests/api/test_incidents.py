"""API: activating a response, listing, reading and changing incidents."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crisis.incidents.models import Incident, IncidentStatus
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import TimelineEvent
from tests.api.conftest import assert_problem
from tests.conftest import csrf_token, login


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def activation(staff, **overrides) -> dict:
    body = {"type": "shooting", "occurred_at": hours_ago(1), "district_id": staff["district"].id,
            "outcome": "injured", "threat_level": "raised", "police_reference": "5000-K123456-26",
            "place": "Farsta centrum"}
    body.update(overrides)
    return body


# -- POST /incidents --------------------------------------------------------------------


def test_coordinator_activates_with_the_playbook_the_type_suggests(api, staff, session):
    response = api.post("/incidents", as_=staff["coordinator"], json=activation(staff, persons=2))
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"] == f"/api/v1/incidents/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["playbook"]["id"] == "stockholm-skjutning"
    assert body["threat_level"] == "raised" and body["police_reference"] == "5000-K123456-26"
    assert [p["label"] for p in body["persons"]] == ["Person 1", "Person 2"]
    assert body["coordinator_id"] == staff["coordinator"].id
    acute = next(p for p in body["phases"] if p["id"] == "acute")
    assert acute["open"] >= 3 and acute["done"] == 0 and acute["overdue"] == 0
    tasks = session.scalars(select(Task).where(Task.incident_id == body["id"])).all()
    assert {"dispatch-outreach-team", "situation-picture"} <= {t.key for t in tasks}
    assert sum(p["total"] for p in body["phases"]) == len([t for t in tasks if t.status != TaskStatus.CANCELLED])
    types = session.scalars(select(TimelineEvent.type).where(TimelineEvent.incident_id == body["id"])).all()
    assert types[0] == "incident.activated"


def test_activation_takes_a_named_playbook_and_refuses_one_for_another_type(api, staff):
    named = api.post("/incidents", as_=staff["admin"],
                     json=activation(staff, type="lethal_violence", playbook_id="stockholm-dodligt-vald"))
    assert named.status_code == 201
    assert named.json["playbook"]["id"] == "stockholm-dodligt-vald"
    wrong = api.post("/incidents", as_=staff["coordinator"],
                     json=activation(staff, playbook_id="stockholm-dodligt-vald"))
    assert "not shooting" in assert_problem(wrong, 422, "playbook_id")["detail"]
    unknown = api.post("/incidents", as_=staff["coordinator"], json=activation(staff, playbook_id="no-such"))
    assert "stockholm-skjutning" in assert_problem(unknown, 422, "playbook_id")["detail"]


def test_activation_names_every_missing_field(api, staff):
    body = assert_problem(api.post("/incidents", as_=staff["coordinator"], json={}), 422)
    assert {e["field"] for e in body["errors"]} == {"type", "occurred_at", "district_id"}
    assert "type is required." in body["detail"]


def test_activation_refuses_bad_values_with_what_to_send(api, staff):
    coordinator = staff["coordinator"]
    cases = [
        ({"type": "riot"}, "type", "one of: shooting, lethal_violence"),
        ({"occurred_at": "2026-11-24T02:10:00"}, "occurred_at", "UTC offset"),
        ({"occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", "between the years"),
        ({"occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "occurred_at", "future"),
        ({"district_id": "1"}, "district_id", "a whole number"),
        ({"district_id": 99999}, "district_id", "No district"),
        ({"district_id": 2**40}, "district_id", "at most"),
        ({"persons": 21}, "persons", "at most 20"),
        ({"police_reference": "x" * 65}, "police_reference", "at most 64"),
        ({"place": "Farsta\x00"}, "place", "NUL"),
        ({"reported_at": hours_ago(2)}, "reported_at", "before the incident happened"),
        ({"colour": "red"}, "colour", "Unknown field 'colour'"),
    ]
    for override, field, words in cases:
        response = api.post("/incidents", as_=coordinator, json=activation(staff, **override))
        body = assert_problem(response, 422, field)
        assert words in body["detail"], (override, body)


def test_activation_with_a_float_whole_number_is_read_as_an_int(api, staff):
    response = api.post("/incidents", as_=staff["coordinator"],
                        json=activation(staff, district_id=float(staff["district"].id), persons=1.0))
    assert response.status_code == 201
    assert len(response.json["persons"]) == 1


def test_malformed_or_non_json_bodies_are_refused(api, staff):
    coordinator = staff["coordinator"]
    broken = api.post("/incidents", as_=coordinator, data="{not json", content_type="application/json")
    assert_problem(broken, 400)
    listed = api.post("/incidents", as_=coordinator, json=[1, 2])
    assert "JSON object" in assert_problem(listed, 400)["detail"]
    form = api.post("/incidents", as_=coordinator, data={"type": "shooting"})
    assert_problem(form, 415)


def test_only_coordinators_and_admins_activate(api, staff, client):
    for role in ("manager", "outsider"):
        response = api.post("/incidents", as_=staff[role], json=activation(staff))
        assert "coordinator" in assert_problem(response, 403)["detail"]
    assert_problem(api.get("/incidents"), 401)
    assert_problem(api.post("/incidents", json=activation(staff), headers={"Authorization": "Bearer crs_wrong"}),
                   401)


def test_browser_session_needs_the_csrf_header(client, staff):
    login(client, staff["coordinator"].email)
    without = client.post("/api/v1/incidents", json=activation(staff))
    assert_problem(without, 403)
    token = csrf_token(client, "/incidents")
    with_header = client.post("/api/v1/incidents", json=activation(staff), headers={"X-CSRFToken": token})
    assert with_header.status_code == 201


# -- GET /incidents ----------------------------------------------------------------------


def test_outreach_lists_only_incidents_they_are_assigned_to(api, staff, activate, session):
    from crisis.incidents.access import assign

    mine, _other = activate(), activate()
    assign(session, staff["workers"][0].id, mine.id)
    session.commit()
    listed = api.get("/incidents", as_=staff["workers"][0]).json
    assert [i["id"] for i in listed["items"]] == [mine.id] and listed["total"] == 1
    assert api.get("/incidents", as_=staff["outsider"]).json["items"] == []
    assert api.get("/incidents", as_=staff["manager"]).json["total"] == 2


def test_list_filters_by_status_district_type_and_period(api, staff, activate, session):
    first = activate()
    second = activate(type="lethal_violence", playbook_id="stockholm-dodligt-vald")
    served = activate(district_id=staff["served"].id)
    session.get(Incident, second.id).status = IncidentStatus.CLOSED
    session.get(Incident, first.id).activated_at = datetime(2026, 3, 14, 21, 40, tzinfo=UTC)
    session.commit()
    manager = staff["manager"]

    def ids(query):
        response = api.get("/incidents" + query, as_=manager)
        assert response.status_code == 200, response.json
        return {i["id"] for i in response.json["items"]}

    assert ids("?status=closed") == {second.id}
    assert ids(f"?district_id={staff['served'].id}") == {served.id}
    assert ids("?type=lethal_violence") == {second.id}
    # A date is a whole Stockholm day; "to" includes it.
    assert ids("?from=2026-03-14&to=2026-03-14") == {first.id}
    assert ids("?to=2026-03-13") == set()
    assert ids("?from=2026-03-14T22:41:00%2B01:00") == {second.id, served.id}
    assert ids("?from=2026-03-14T22:39:00%2B01:00&to=2026-03-14T22:41:00%2B01:00") == {first.id}


def test_list_pages_with_total(api, staff, activate):
    created = [activate() for _ in range(3)]
    page = api.get("/incidents?limit=2&offset=0", as_=staff["coordinator"]).json
    assert page["total"] == 3 and page["limit"] == 2 and len(page["items"]) == 2
    rest = api.get("/incidents?limit=2&offset=2", as_=staff["coordinator"]).json
    assert {i["id"] for i in page["items"] + rest["items"]} == {i.id for i in created}


def test_list_refuses_bad_filters(api, staff):
    coordinator = staff["coordinator"]
    for query, field in [("?status=open", "status"), ("?limit=0", "limit"), ("?limit=x", "limit"),
                         ("?from=2026-13-01", "from"), ("?to=2026-03-14T10:00:00", "to"),
                         ("?district_id=1&district_id=2", "district_id"), ("?type=%00", "type")]:
        assert_problem(api.get("/incidents" + query, as_=coordinator), 422, field)


# -- GET /incidents/{id} ----------------------------------------------------------------------


def test_incident_shows_phase_progress_with_overdue_and_done(api, staff, activate, session):
    incident = activate()
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id, Task.phase_id == "acute")).all()
    tasks[0].due_at = datetime.now(UTC) - timedelta(minutes=5)
    tasks[1].status, tasks[1].completed_at = TaskStatus.DONE, datetime.now(UTC)
    session.commit()
    body = api.get(f"/incidents/{incident.id}", as_=staff["manager"]).json
    acute = next(p for p in body["phases"] if p["id"] == "acute")
    assert acute["done"] == 1 and acute["overdue"] == 1
    assert acute["open"] == acute["total"] - 1
    assert body["tasks"]["overdue"] == 1 and body["tasks"]["done"] == 1
    assert acute["title"]["sv"] and acute["title_text"] == acute["title"]["en"]  # as Accept-Language asked


def test_ad_hoc_tasks_form_their_own_group(api, staff, activate):
    incident = activate()
    created = api.post(f"/incidents/{incident.id}/tasks", as_=staff["coordinator"],
                       json={"title": "Ring skolan", "category": "children"})
    assert created.status_code == 201
    phases = api.get(f"/incidents/{incident.id}", as_=staff["coordinator"]).json["phases"]
    assert phases[-1]["id"] is None and phases[-1]["total"] == 1


def test_incident_refusals(api, staff, activate):
    incident = activate()
    assert "not assigned" in assert_problem(api.get(f"/incidents/{incident.id}", as_=staff["outsider"]), 403)[
        "detail"]
    assert_problem(api.get("/incidents/999999", as_=staff["coordinator"]), 404)
    assert_problem(api.get(f"/incidents/{2**40}", as_=staff["coordinator"]), 404)
    assert_problem(api.get(f"/incidents/{incident.id}"), 401)


# -- PATCH /incidents/{id} ----------------------------------------------------------------------


def test_facts_change_with_if_match_and_deadlines_follow(api, staff, activate, session):
    incident = activate()
    death = hours_ago(0.5)
    response = api.patch(f"/incidents/{incident.id}", as_=staff["coordinator"], headers={"If-Match": '"1"'},
                         json={"death_at": death, "threat_level": "high"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["outcome"] == "deceased" and body["threat_level"] == "high"
    assert body["version"] == 2 and response.headers["ETag"] == '"2"'
    keys = set(session.scalars(select(Task.key).where(Task.incident_id == incident.id,
                                                      Task.status != TaskStatus.CANCELLED)))
    assert "death-notification" in keys
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "incident.updated")).one()
    assert set(event.data) >= {"death_at", "threat_level", "outcome"}


def test_facts_change_with_version_in_body_and_clearing_a_date(api, staff, activate):
    incident = activate()
    coordinator = staff["coordinator"]
    set_funeral = api.patch(f"/incidents/{incident.id}", as_=coordinator,
                            json={"version": 1, "funeral_at": "2026-12-20T13:00:00+01:00", "status": "follow_up"})
    assert set_funeral.json["funeral_at"] == "2026-12-20T12:00:00+00:00"
    assert set_funeral.json["status"] == "follow_up"
    cleared = api.patch(f"/incidents/{incident.id}", as_=coordinator, json={"version": 2, "funeral_at": None})
    assert cleared.status_code == 200 and cleared.json["funeral_at"] is None


def test_stale_fact_change_is_refused_with_the_current_version(api, staff, activate, session):
    incident = activate()
    path = f"/incidents/{incident.id}"
    assert api.patch(path, as_=staff["coordinator"], json={"version": 1, "place": "Hökarängen"}).status_code == 200
    stale = api.patch(path, as_=staff["admin"], json={"version": 1, "place": "Farsta strand"})
    assert assert_problem(stale, 409)["current_version"] == 2
    stale_header = api.patch(path, as_=staff["admin"], headers={"If-Match": '"1"'}, json={"place": "Farsta"})
    assert assert_problem(stale_header, 412)["current_version"] == 2
    assert session.get(Incident, incident.id, populate_existing=True).place == "Hökarängen"


def test_fact_change_needs_a_version_and_a_fact(api, staff, activate):
    incident = activate()
    path, coordinator = f"/incidents/{incident.id}", staff["coordinator"]
    assert "If-Match" in assert_problem(api.patch(path, as_=coordinator, json={"place": "X"}), 428)["detail"]
    assert_problem(api.patch(path, as_=coordinator, headers={"If-Match": "*"}, json={"place": "X"}), 400)
    assert_problem(api.patch(path, as_=coordinator, headers={"If-Match": '"2"'}, json={"version": 1,
                                                                                       "place": "X"}), 400)
    assert "at least one of" in assert_problem(api.patch(path, as_=coordinator, json={"version": 1}), 422)["detail"]
    assert_problem(api.patch(path, as_=coordinator, json={"version": 1, "status": "done"}), 422, "status")
    assert_problem(api.patch(path, as_=coordinator, json={"version": 1, "death_at": "2026-11-24"}), 422,
                   "death_at")
    before = api.patch(path, as_=coordinator, json={"version": 1, "death_at": "2000-01-01T00:00:00+00:00"})
    assert "before the incident" in assert_problem(before, 422, "death_at")["detail"]


def test_managers_and_outreach_cannot_change_facts(api, staff, activate, session):
    from crisis.incidents.access import assign

    incident = activate()
    assign(session, staff["workers"][0].id, incident.id)
    assign(session, staff["manager"].id, incident.id)
    session.commit()
    for who in ("manager", "outsider"):
        assert_problem(api.patch(f"/incidents/{incident.id}", as_=staff[who], json={"version": 1, "place": "X"}),
                       403)
    worker = api.patch(f"/incidents/{incident.id}", as_=staff["workers"][0], json={"version": 1, "place": "X"})
    assert_problem(worker, 403)


# -- POST /incidents/{id}/persons ------------------------------------------------------------------


def test_adding_a_deceased_person_raises_the_outcome(api, staff, activate):
    incident = activate()
    response = api.post(f"/incidents/{incident.id}/persons", as_=staff["coordinator"],
                        json={"outcome": "deceased", "age_band": "18-25", "gender": "man", "name": "Okänd"})
    assert response.status_code == 201
    assert response.json["label"] == "Person 2" and "name" not in response.json
    assert api.get(f"/incidents/{incident.id}", as_=staff["coordinator"]).json["outcome"] == "deceased"


def test_person_refusals(api, staff, activate):
    incident = activate()
    path = f"/incidents/{incident.id}/persons"
    assert_problem(api.post(path, as_=staff["coordinator"], json={"case_worker_id": 424242}), 422, "case_worker_id")
    assert_problem(api.post(path, as_=staff["coordinator"], json={"outcome": "dead"}), 422, "outcome")
    assert_problem(api.post(path, as_=staff["manager"], json={}), 403)
