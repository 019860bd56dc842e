"""The overdue-task job: the playbook's people are told once per task, by SMS without personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crisis.scheduler import registered_jobs
from crisis.tasks.jobs import run_task_escalation
from crisis.tasks.models import Task
from tests.followups.helpers import NOW, PLAYBOOK_CONTENT, events, local, outbox

# Jobs run inside an app context in the scheduler; so do they here (links, PUBLIC_BASE_URL).
pytestmark = pytest.mark.usefixtures("app_ctx")


def playbook(*notify: str) -> dict:
    return {**PLAYBOOK_CONTENT, "escalation": {**PLAYBOOK_CONTENT["escalation"],
                                               "task_overdue_notify": list(notify)}}


@pytest.fixture
def response(session, create_user, create_district, create_incident, create_snapshot, create_relative):
    district = create_district()
    coordinator = create_user("coordinator", phone="+46701220001", district=district)
    owner = create_user("outreach", phone="+46701220002", district=district)
    manager = create_user("manager", phone="+46701220003", district=district)
    incident = create_incident(district=district, coordinator=coordinator, assigned=[owner],
                               snapshot=create_snapshot(playbook("owner", "coordinator", "manager"), "notify-all"))
    relative = create_relative(incident, consent="given", name="Amir Testsson")
    session.expire_all()
    return {"district": district, "coordinator": coordinator, "owner": owner, "manager": manager,
            "incident": incident, "relative": relative}


@pytest.fixture
def create_task(session):
    def factory(incident, *, due_at, owner=None, team=None, status="open", category="practical_help",
                due_offset="3mo", relative=None):
        task = Task(incident_id=incident.id, relative_id=relative.id if relative else None,
                    title={"sv": "Bouppteckning för Amir Testsson", "en": "Estate inventory"},
                    category=category, role="outreach", owner_user_id=owner.id if owner else None,
                    owner_team_id=team.id if team else None, due_at=due_at, due_anchor="death",
                    due_offset=due_offset, status=status,
                    completed_at=NOW if status == "done" else None)
        session.add(task)
        session.commit()
        session.expire_all()
        return task

    return factory


def test_the_job_is_registered_with_the_scheduler():
    assert "tasks.overdue_escalation" in {job.id for job in registered_jobs()}


def test_an_overdue_task_tells_owner_coordinator_and_manager_once(session, response, create_task):
    incident = response["incident"]
    task = create_task(incident, due_at=local(2026, 6, 22, 9, 0), owner=response["owner"],
                       relative=response["relative"])

    first = run_task_escalation(session, now=NOW)
    second = run_task_escalation(session, now=NOW + timedelta(hours=1))

    assert (first.ids, second.escalated) == ([task.id], 0)
    messages = outbox(session, "overdue_escalation")
    assert sorted(m.recipient_user_id for m in messages) == sorted(
        [response["owner"].id, response["coordinator"].id, response["manager"].id])
    assert {m.idempotency_key for m in messages} == {
        f"task-overdue:{task.id}:{int(local(2026, 6, 22, 9).timestamp())}:{u.id}"
        for u in (response["owner"], response["coordinator"], response["manager"])}
    body = messages[0].body
    assert body == (f"Försenad uppgift {incident.reference} (praktisk hjälp), deadline 2026-06-22 mån 09:00. "
                    f"Logga in: http://127.0.0.1:5000/tasks/{task.id}")
    for message in messages:  # never a name: not the relative's, not the one in the task's title
        assert "Amir" not in message.body and "Bouppteckning" not in message.body
    session.expire_all()
    assert session.get(Task, task.id).overdue_notified_at == NOW
    assert session.get(Task, task.id).version == 1
    [event] = events(session, "task.overdue_escalated")
    assert (event.actor_label, event.incident_id, event.subject_id) == ("scheduler", incident.id, task.id)
    assert event.data["notified_roles"] == ["owner", "coordinator", "manager"]
    assert "Amir" not in event.summary + str(event.data)


def test_only_the_roles_the_playbook_names_are_told(
        session, create_user, create_district, create_incident, create_snapshot, create_task):
    district = create_district()
    coordinator = create_user("coordinator", phone="+46701220011", district=district)
    owner = create_user("outreach", phone="+46701220012", district=district)
    create_user("manager", phone="+46701220013", district=district)
    incident = create_incident(district=district, coordinator=coordinator,
                               snapshot=create_snapshot(playbook("coordinator"), "coordinator-only"))
    create_task(incident, due_at=local(2026, 6, 22, 8), owner=owner)

    run_task_escalation(session, now=NOW)

    assert [m.recipient_user_id for m in outbox(session, "overdue_escalation")] == [coordinator.id]


def test_a_team_owned_task_tells_the_first_member_on_call(
        session, response, create_task, create_user, create_team):
    off_duty = create_user("outreach", phone="+46701220021")
    off_duty.availability = "off_duty"
    on_call = create_user("outreach", phone="+46701220022")
    session.commit()
    team = create_team(response["district"], [off_duty, on_call])
    session.expire_all()
    create_task(response["incident"], due_at=local(2026, 6, 22, 8), team=team)

    run_task_escalation(session, now=NOW)

    recipients = {m.recipient_user_id for m in outbox(session, "overdue_escalation")}
    assert on_call.id in recipients and off_duty.id not in recipients


def test_the_same_person_in_two_roles_gets_one_text(session, response, create_task):
    create_task(response["incident"], due_at=local(2026, 6, 22, 8), owner=response["coordinator"])

    run_task_escalation(session, now=NOW)

    assert sorted(m.recipient_user_id for m in outbox(session, "overdue_escalation")) == sorted(
        [response["coordinator"].id, response["manager"].id])


@pytest.mark.parametrize("status", ["done", "not_applicable", "cancelled"])
def test_closed_tasks_do_not_escalate(session, response, create_task, status):
    create_task(response["incident"], due_at=local(2026, 6, 1), owner=response["owner"], status=status)
    assert run_task_escalation(session, now=NOW).escalated == 0


def test_tasks_without_a_deadline_or_on_a_closed_incident_do_not_escalate(session, response, create_task):
    create_task(response["incident"], due_at=None, owner=response["owner"])
    assert run_task_escalation(session, now=NOW).escalated == 0
    create_task(response["incident"], due_at=local(2026, 6, 1), owner=response["owner"])
    session.execute(update(type(response["incident"])).values(status="closed"))
    session.commit()
    assert run_task_escalation(session, now=NOW).escalated == 0


def test_at_night_only_acute_deadlines_escalate(session, response, create_task):
    night = local(2026, 6, 23, 3, 0)
    acute = create_task(response["incident"], due_at=local(2026, 6, 23, 2), owner=response["owner"],
                        category="outreach", due_offset="24h")
    later = create_task(response["incident"], due_at=local(2026, 6, 22, 23), owner=response["owner"],
                        due_offset="3mo")
    ad_hoc = create_task(response["incident"], due_at=local(2026, 6, 22, 23), owner=response["owner"],
                         due_offset=None)

    assert run_task_escalation(session, now=night).ids == [acute.id]
    assert sorted(run_task_escalation(session, now=local(2026, 6, 23, 7, 0)).ids) == sorted([later.id, ad_hoc.id])


def test_a_redated_task_that_is_late_again_escalates_again(session, response, create_task):
    """The engine moves a deadline when its anchor changes; once the mark is cleared the new one counts."""
    task = create_task(response["incident"], due_at=local(2026, 6, 22, 8), owner=response["owner"])
    run_task_escalation(session, now=NOW)
    session.execute(update(Task).where(Task.id == task.id)
                    .values(due_at=local(2026, 6, 25, 8), overdue_notified_at=None))
    session.commit()

    assert run_task_escalation(session, now=NOW + timedelta(hours=1)).escalated == 0
    assert run_task_escalation(session, now=local(2026, 6, 25, 9)).escalated == 1
    assert len(outbox(session, "overdue_escalation")) == 6


def test_a_second_scheduler_finds_nothing_left(session, response, create_task):
    """The mark is conditional: a sweep that comes second (or runs again) sends nothing."""
    create_task(response["incident"], due_at=local(2026, 6, 22, 8), owner=response["owner"])
    run_task_escalation(session, now=NOW)
    before = len(outbox(session))

    again = run_task_escalation(session, now=NOW)

    assert again.escalated == 0 and len(outbox(session)) == before
    assert session.scalar(select(Task.overdue_notified_at)) == NOW
