"""API: listing and working tasks, optimistic locking, who may change what."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from crisis.core.db import db
from crisis.incidents import services
from crisis.incidents.access import assign, is_assigned
from crisis.incidents.models import Relative
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import TimelineEvent
from tests.api.conftest import assert_problem


def task_by_key(session, incident, key) -> Task:
    query = select(Task).where(Task.incident_id == incident.id, Task.key == key)
    return session.scalars(query.execution_options(populate_existing=True)).one()


@pytest.fixture
def response(activate, staff, session):
    """An injured-person incident (a team task at the hospital), a consenting relative
    (a team task for first contact) and worker 0 of the SIG team assigned."""
    incident = activate()
    relative = services.add_relative(session, incident, actor=staff["coordinator"], relation="parent",
                                     name="Amina Testsson", phone="+46701112233")
    services.record_consent(session, relative, actor=staff["coordinator"], state="given")
    assign(session, staff["workers"][0].id, incident.id)
    session.commit()
    return {"incident": incident, "relative": relative,
            "hospital": task_by_key(session, incident, "hospital-liaison"),
            "first_contact": task_by_key(session, incident, f"first-contact@relative:r{relative.id}")}


# -- reading ---------------------------------------------------------------------------------------------


def test_incident_tasks_soonest_first_without_cancelled_ones(api, staff, response, session):
    incident = response["incident"]
    items = api.get(f"/incidents/{incident.id}/tasks", as_=staff["manager"]).json["items"]
    due = [i["due_at"] for i in items if i["due_at"]]
    assert due == sorted(due)
    assert all(i["status"] != "cancelled" for i in items)
    cancelled = task_by_key(session, incident, f"obtain-consent@relative:r{response['relative'].id}")
    assert cancelled.status == TaskStatus.CANCELLED
    only = api.get(f"/incidents/{incident.id}/tasks?status=cancelled", as_=staff["manager"]).json["items"]
    assert [i["id"] for i in only] == [cancelled.id]


def test_incident_tasks_filter_by_phase_relative_and_mine(api, staff, response):
    incident, relative = response["incident"], response["relative"]
    path = f"/incidents/{incident.id}/tasks"
    acute = api.get(path + "?phase=acute", as_=staff["coordinator"]).json["items"]
    assert acute and {i["phase_id"] for i in acute} == {"acute"}
    about = api.get(path + f"?relative_id={relative.id}", as_=staff["coordinator"]).json["items"]
    assert about and {i["relative"]["id"] for i in about} == {relative.id}
    assert {i["relative"]["label"] for i in about} == {"Anhörig 1"}
    mine = api.get(path + "?mine=true", as_=staff["workers"][0]).json["items"]
    assert {i["id"] for i in mine} >= {response["hospital"].id, response["first_contact"].id}
    assert all(i["owner_team_id"] == staff["team"].id and i["owner_user_id"] is None for i in mine)
    coordinators = api.get(path + "?mine=1", as_=staff["coordinator"]).json["items"]
    assert coordinators and all(i["owner_user_id"] == staff["coordinator"].id for i in coordinators)
    assert_problem(api.get(path + "?mine=maybe", as_=staff["coordinator"]), 422, "mine")
    assert_problem(api.get(path + "?status=finished", as_=staff["coordinator"]), 422, "status")


def test_my_tasks_are_open_team_tasks_on_my_incidents_soonest_first(api, staff, response, activate, session):
    other = activate()  # the team owns its hospital task, but worker 0 is not assigned there
    items = api.get("/me/tasks", as_=staff["workers"][0]).json["items"]
    ids = [i["id"] for i in items]
    assert response["hospital"].id in ids and response["first_contact"].id in ids
    assert task_by_key(session, other, "hospital-liaison").id not in ids
    due = [i["due_at"] for i in items]
    assert due == sorted(due, key=lambda d: (d is None, d))
    assert all(i["status"] in ("open", "in_progress", "blocked") for i in items)
    # Worker 1 of the same team sees nothing until assigned.
    assert api.get("/me/tasks", as_=staff["workers"][1]).json["items"] == []
    assert_problem(api.get("/me/tasks"), 401)


def test_get_task_carries_its_version_as_etag(api, staff, response):
    task = response["first_contact"]
    got = api.get(f"/tasks/{task.id}", as_=staff["workers"][0])
    assert got.status_code == 200 and got.headers["ETag"] == f'"{task.version}"'
    assert got.json["checklist"][0]["done"] is False and got.json["title_text"]


def test_tasks_of_an_incident_not_assigned_are_refused(api, staff, response):
    """IDOR: another outreach worker cannot read or change this incident's tasks."""
    incident, task = response["incident"], response["first_contact"]
    outsider = staff["outsider"]
    assert_problem(api.get(f"/incidents/{incident.id}/tasks", as_=outsider), 403)
    assert_problem(api.get(f"/tasks/{task.id}", as_=outsider), 403)
    assert_problem(api.patch(f"/tasks/{task.id}", as_=outsider, json={"version": 1, "status": "done"}), 403)
    assert_problem(api.get("/tasks/999999", as_=staff["coordinator"]), 404)


def test_note_is_shown_only_to_those_who_may_open_the_relatives_record(api, staff, response, session):
    task = response["first_contact"]
    api.patch(f"/tasks/{task.id}", as_=staff["workers"][0], json={"version": task.version, "note": "Ring efter 16"})
    assert api.get(f"/tasks/{task.id}", as_=staff["workers"][0]).json["note"] == "Ring efter 16"
    assert api.get(f"/tasks/{task.id}", as_=staff["manager"]).json["note"] is None  # not assigned
    listed = api.get(f"/incidents/{response['incident'].id}/tasks", as_=staff["manager"]).json["items"]
    assert all(i["note"] is None for i in listed)
    assign(session, staff["manager"].id, response["incident"].id)
    session.commit()
    assert api.get(f"/tasks/{task.id}", as_=staff["manager"]).json["note"] == "Ring efter 16"


# -- working a task ---------------------------------------------------------------------------------------


def test_outreach_works_a_team_task_to_done(api, staff, response, session):
    task = response["first_contact"]
    worker = staff["workers"][0]
    started = api.patch(f"/tasks/{task.id}", as_=worker, headers={"If-Match": f'"{task.version}"'},
                        json={"status": "in_progress"})
    assert started.status_code == 200, started.json
    assert started.json["status"] == "in_progress" and started.headers["ETag"] == f'"{task.version + 1}"'
    checklist = [True] * len(task.checklist)
    done = api.patch(f"/tasks/{task.id}", as_=worker, json={
        "version": started.json["version"], "status": "done", "checklist": checklist, "note": "Träffades hemma"})
    assert done.status_code == 200, done.json
    assert done.json["completed_at"] and all(item["done"] for item in done.json["checklist"])
    assert session.get(Relative, response["relative"].id, populate_existing=True).first_contact_at is not None
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "task.updated")).all()[-1]
    assert event.actor_id == worker.id and "Träffades" not in str(event.data)


def test_stale_task_update_is_refused_and_nothing_is_overwritten(api, staff, response, session):
    task = response["first_contact"]
    first = api.patch(f"/tasks/{task.id}", as_=staff["workers"][0], json={"version": 1, "note": "Jag ringer"})
    assert first.status_code == 200
    second = api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], json={"version": 1, "note": "Jag åker dit"})
    body = assert_problem(second, 409)
    assert body["current_version"] == 2 and "version 2" in body["detail"]
    with_header = api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], headers={"If-Match": '"1"'},
                            json={"status": "blocked"})
    assert assert_problem(with_header, 412)["current_version"] == 2
    stored = session.get(Task, task.id, populate_existing=True)
    assert (stored.note, stored.status, stored.version) == ("Jag ringer", TaskStatus.OPEN, 2)


def test_a_writer_that_slips_in_between_read_and_write_is_caught(api, staff, response, monkeypatch):
    """Two phones at the same moment: both pass the version check, the row's version column
    stops the second write (StaleDataError), and the answer is the same 409."""
    from crisis.tasks import api as tasks_api

    task = response["first_contact"]
    original = tasks_api.services.update_task

    def racing(session, task, **kwargs):
        with db.engine.begin() as other:  # the other phone commits first
            other.execute(update(Task).where(Task.id == task.id).values(version=Task.version + 1, note=None))
        return original(session, task, **kwargs)

    monkeypatch.setattr(tasks_api.services, "update_task", racing)
    response_ = api.patch(f"/tasks/{task.id}", as_=staff["workers"][0], json={"version": 1, "status": "done"})
    assert assert_problem(response_, 409)["current_version"] == 2


def test_version_is_required(api, staff, response):
    task = response["first_contact"]
    assert_problem(api.patch(f"/tasks/{task.id}", as_=staff["workers"][0], json={"status": "done"}), 428)
    assert_problem(api.patch(f"/tasks/{task.id}", as_=staff["workers"][0], headers={"If-Match": "W/\"x\""},
                             json={"status": "done"}), 400)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"status": "cancelled"}, "status", "one of"),
    ({"status": "finished"}, "status", "one of"),
    ({"checklist": [True]}, "checklist", "send that many"),
    ({"checklist": ["yes"]}, "checklist[0]", "true or false"),
    ({"note": "x" * 5001}, "note", "at most 5000"),
    ({"owner_user_id": 999999}, "owner_user_id", "No active staff"),
    ({"due_at": "tomorrow"}, "due_at", "ISO 8601"),
    ({"priority": "high"}, "priority", "Unknown field"),
    ({}, None, "at least one of"),
])
def test_task_change_refusals(api, staff, response, change, field, words):
    task = response["first_contact"]
    refused = api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], json={"version": task.version, **change})
    body = assert_problem(refused, 422, field)
    assert words in body["detail"]


def test_a_cancelled_status_change_cannot_skip_the_rules(api, staff, response, session):
    task = response["first_contact"]
    api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], json={"version": 1, "status": "not_applicable"})
    refused = api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], json={"version": 2, "status": "done"})
    assert "cannot become done" in assert_problem(refused, 422, "status")["detail"]


def test_who_may_change_a_task(api, staff, response, session):
    task = response["hospital"]
    path = f"/tasks/{task.id}"
    assign(session, staff["outsider"].id, response["incident"].id)
    assign(session, staff["manager"].id, response["incident"].id)
    session.commit()
    # Assigned, but not in the team that owns it; a manager only reads.
    assert_problem(api.patch(path, as_=staff["outsider"], json={"version": 1, "status": "done"}), 403)
    assert_problem(api.patch(path, as_=staff["manager"], json={"version": 1, "status": "done"}), 403)
    worker = staff["workers"][0]
    assert "deadline" in assert_problem(api.patch(path, as_=worker, json={
        "version": 1, "due_at": "2026-12-01T10:00:00+01:00"}), 403)["detail"]
    assert_problem(api.patch(path, as_=worker, json={"version": 1, "owner_user_id": staff["workers"][1].id}), 403)
    taken = api.patch(path, as_=worker, json={"version": 1, "owner_user_id": worker.id})
    assert taken.status_code == 200 and taken.json["owner_user_id"] == worker.id
    # Taken: now it is worker 0's, not the rest of the team's.
    assign(session, staff["workers"][1].id, response["incident"].id)
    session.commit()
    assert_problem(api.patch(path, as_=staff["workers"][1], json={"version": 2, "status": "done"}), 403)


def test_coordinator_reassigns_and_moves_the_deadline(api, staff, response, session):
    task = response["hospital"]
    new_owner = staff["workers"][1]
    due = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    changed = api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], json={
        "version": 1, "owner_user_id": new_owner.id, "due_at": due.isoformat()})
    assert changed.status_code == 200, changed.json
    assert changed.json["owner_user_id"] == new_owner.id and changed.json["due_at"] == due.isoformat()
    assert is_assigned(session, new_owner, response["incident"].id)
    cleared = api.patch(f"/tasks/{task.id}", as_=staff["coordinator"], json={"version": 2, "due_at": None})
    assert cleared.json["due_at"] is None and cleared.json["overdue"] is False


# -- ad hoc tasks ----------------------------------------------------------------------------------------


def test_coordinator_adds_an_ad_hoc_task(api, staff, response, session):
    incident, relative = response["incident"], response["relative"]
    worker = staff["workers"][1]
    created = api.post(f"/incidents/{incident.id}/tasks", as_=staff["coordinator"], json={
        "title": "Följ med till Migrationsverket", "category": "practical_help", "relative_id": relative.id,
        "owner_user_id": worker.id, "due_at": "2026-12-01T09:00:00+01:00", "description": "Tolk behövs"})
    assert created.status_code == 201, created.json
    body = created.json
    assert created.headers["Location"] == f"/api/v1/tasks/{body['id']}"
    assert body["key"] is None and body["phase_id"] is None and body["title"]["sv"] == "Följ med till Migrationsverket"
    assert is_assigned(session, worker, incident.id)
    assert body["id"] in [i["id"] for i in api.get("/me/tasks", as_=worker).json["items"]]


def test_ad_hoc_task_refusals(api, staff, response, activate, session):
    incident = response["incident"]
    other = activate()
    stranger = services.add_relative(session, other, actor=staff["coordinator"], relation="friend")
    session.commit()
    path = f"/incidents/{incident.id}/tasks"
    assert_problem(api.post(path, as_=staff["coordinator"], json={"title": "  "}), 422, "title")
    assert_problem(api.post(path, as_=staff["coordinator"], json={}), 422, "title")
    assert_problem(api.post(path, as_=staff["coordinator"], json={"title": "X", "category": "fun"}), 422, "category")
    assert "does not belong" in assert_problem(api.post(path, as_=staff["coordinator"], json={
        "title": "X", "relative_id": stranger.id}), 422, "relative_id")["detail"]
    assert_problem(api.post(path, as_=staff["workers"][0], json={"title": "X"}), 403)
    assert_problem(api.post(path, as_=staff["manager"], json={"title": "X"}), 403)
