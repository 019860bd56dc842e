"""'Mina uppgifter' and the steps after an alert (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crisis.dispatch.services import acknowledge_dispatch, dispatch_staff
from crisis.incidents import services
from crisis.incidents.access import assign
from crisis.live.dashboard import incident_cards, team_availability
from crisis.tasks.mine import group_of
from crisis.tasks.models import Task, TaskStatus
from crisis.tasks.services import update_task
from crisis.timeline.models import TimelineEvent
from tests.conftest import csrf_token, login

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_tasks_fall_into_overdue_today_this_week_later_and_undated():
    # Wednesday 2 December 2026, 10:00 in Stockholm.
    now = datetime(2026, 12, 2, 10, 0, tzinfo=STOCKHOLM).astimezone(UTC)

    def due(**delta):
        return Task(due_at=(now + timedelta(**delta)) if delta else None)

    assert group_of(due(minutes=-1), now) == "overdue"
    assert group_of(due(hours=13), now) == "today"  # 23:00 the same evening
    assert group_of(due(hours=15), now) == "week"  # tomorrow
    assert group_of(due(days=4, hours=13), now) == "week"  # Sunday 23:00
    assert group_of(due(days=5), now) == "later"  # Monday
    assert group_of(due(), now) == "undated"


def _visit(app, session, incident, worker, coordinator, task):
    with app.app_context():
        (dispatch,) = dispatch_staff(session, incident=incident, users=[worker], actor=coordinator,
                                     purpose="visit", task=task)
        session.commit()
    return dispatch


def test_a_pending_alert_comes_first_and_tasks_are_grouped_by_incident_with_the_relatives_label(
        app, client, session, activate, response_setup):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]
    incident = activate()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent", phone="+46701740695")
    services.record_consent(session, relative, actor=coordinator, state="given")
    assign(session, worker.id, incident.id)
    session.commit()
    task = session.scalar(select(Task).where(Task.relative_id == relative.id, Task.step_id == "first-contact"))
    dispatch = _visit(app, session, incident, worker, coordinator, task)
    login(client, worker.email)
    page = client.get("/me/tasks").get_data(as_text=True)
    alerts = page.index("Larm som väntar på ditt svar")
    assert f"Larm {dispatch.reference}" in page
    assert f'action="/dispatches/{dispatch.id}/acknowledge"' in page  # one tap
    first_group = min(page.index(t) for t in ("Försenade", "I dag", "Denna vecka", "Senare", "Inga tidsfrister")
                      if t in page)
    assert alerts < first_group
    assert f"Insats {incident.reference}" in page and relative.label in page


def test_acknowledging_gives_the_visit_to_the_acknowledger_and_shows_the_next_step(
        app, client, session, activate, response_setup):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][1]
    incident = activate()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent", phone="+46701740694")
    services.record_consent(session, relative, actor=coordinator, state="given")
    session.commit()
    task = session.scalar(select(Task).where(Task.relative_id == relative.id, Task.step_id == "first-contact"))
    assert task.owner_user_id != worker.id
    dispatch = _visit(app, session, incident, worker, coordinator, task)
    login(client, worker.email)
    response = client.post(f"/dispatches/{dispatch.id}/acknowledge",
                           data={"csrf_token": csrf_token(client, "/me/tasks"), "via": "app"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert session.get(Task, task.id).owner_user_id == worker.id
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "task.reassigned"))
    assert event.data["dispatch_id"] == dispatch.id and event.data["owner_user_id"]["after"] == worker.id
    assert f'href="/tasks/{task.id}"' in page and f'href="/relatives/{relative.id}"' in page
    assert 'href="tel:+46701740694"' in page  # consent given: a call button


def test_blocked_needs_a_reason_which_the_coordinator_sees_on_the_dashboard_card(
        client, session, activate, response_setup):
    coordinator = response_setup["coordinator"]
    incident = activate()
    task = session.scalars(select(Task).where(Task.incident_id == incident.id,
                                              Task.status == TaskStatus.OPEN)).first()
    login(client, coordinator.email)
    token = csrf_token(client, f"/tasks/{task.id}")
    refused = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "version": task.version,
                                                     "status": "blocked"})
    assert refused.status_code == 422
    assert "Skriv kort vad som hindrar uppgiften" in refused.get_data(as_text=True)
    saved = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "version": task.version,
                                                   "status": "blocked", "blocked_reason": "Tolk saknas till i morgon"})
    assert saved.status_code == 302
    (card,) = incident_cards(session, coordinator)
    assert card.blocked_reasons == ["Tolk saknas till i morgon"]
    assert "Tolk saknas till i morgon" in client.get("/dashboard").get_data(as_text=True)
    session.expire_all()
    fresh = session.get(Task, task.id)
    update_task(session, fresh, actor=coordinator, expected_version=fresh.version, status="open")
    assert fresh.blocked_reason is None


def test_one_tap_done_from_the_list_keeps_checklist_and_note(client, session, activate, response_setup):
    coordinator = response_setup["coordinator"]
    incident = activate()
    task = next(t for t in session.scalars(select(Task).where(Task.incident_id == incident.id,
                                                              Task.status == TaskStatus.OPEN))
                if t.checklist)
    update_task(session, task, actor=coordinator, expected_version=task.version,
                checklist_done=[True] + [False] * (len(task.checklist) - 1), note="Ringde polisen")
    session.commit()
    login(client, coordinator.email)
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(client, "/me/tasks"),
                                                      "version": task.version, "status": "done"})
    assert response.status_code == 302
    session.expire_all()
    done = session.get(Task, task.id)
    assert done.status == TaskStatus.DONE
    assert done.checklist[0]["done"] is True and done.note == "Ringde polisen"


def test_a_member_who_acknowledged_shows_as_on_the_way(app, session, activate, response_setup):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]
    incident = activate()
    with app.app_context():
        (dispatch,) = dispatch_staff(session, incident=incident, users=[worker], actor=coordinator)
        acknowledge_dispatch(session, dispatch, user=worker, via="app")
        session.commit()
    (team,) = team_availability(session)
    shown = {m.user_id: m.shown_as for m in team.members}
    assert shown[worker.id] == "on_the_way"
    assert shown[response_setup["workers"][1].id] == "available"
    assert team.count("available") == 1
