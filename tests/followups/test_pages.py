"""Follow-up pages: the week for a worker and a coordinator, one follow-up, outcome and new date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.core.db import utcnow
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.followups.services import Week
from crisis.timeline.models import AccessLog
from tests.conftest import csrf_token, login
from tests.followups.helpers import events


@pytest.fixture
def worker_setup(session, logged_in, create_user, create_incident, create_relative, followup_snapshot):
    """A logged-in outreach worker with one relative whose contact person they are."""
    worker = logged_in("outreach", phone="+46701330001")
    coordinator = create_user("coordinator", phone="+46701330002")
    incident = create_incident(coordinator=coordinator, assigned=[worker], snapshot=followup_snapshot)
    relative = create_relative(incident, consent="given", contact_person_id=worker.id, name="Sara Testsson",
                               phone="+46709990001")
    session.expire_all()
    return {"worker": worker, "coordinator": coordinator, "incident": incident, "relative": relative}


def this_week_at(days: int, hour: int = 10):
    """A moment in the current week (Monday + days) at `hour` Stockholm time."""
    from datetime import datetime

    from crisis.core.holidays import STOCKHOLM

    monday = Week.containing(utcnow()).monday
    return datetime.combine(monday + timedelta(days=days), datetime.min.time().replace(hour=hour),
                            tzinfo=STOCKHOLM)


def test_the_week_lists_my_follow_ups_by_day_with_overdue_ones_first(
        client, session, worker_setup, create_follow_up, create_relative):
    relative, worker = worker_setup["relative"], worker_setup["worker"]
    create_follow_up(relative, label="1w", due_at=this_week_at(2), owner=worker)
    create_follow_up(relative, label="1d", due_at=this_week_at(-3), owner=worker)  # last week, still open
    someone_else = create_relative(worker_setup["incident"], consent="given")
    create_follow_up(someone_else, label="1mo", due_at=this_week_at(3), owner=worker_setup["coordinator"])

    page = client.get("/followups/week")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Uppföljningar denna vecka" in html
    assert "Försenade från tidigare veckor" in html
    assert html.count('class="followup status-') == 2  # the coordinator's follow-up is not mine
    assert "1 vecka" in html and "1 dag" in html
    assert "Sara" not in html and "9990001" not in html  # lists show labels, never names or numbers


def test_the_coordinator_sees_every_follow_up_of_their_incidents(
        client, session, logged_in, create_incident, create_relative, create_follow_up, create_user,
        followup_snapshot):
    coordinator = logged_in("coordinator", phone="+46701330010")
    worker = create_user("outreach", phone="+46701330011")
    mine = create_incident(coordinator=coordinator, snapshot=followup_snapshot)
    theirs = create_incident(coordinator=create_user("coordinator"), snapshot=followup_snapshot)
    create_follow_up(create_relative(mine, consent="given"), due_at=this_week_at(1), owner=worker)
    create_follow_up(create_relative(theirs, consent="given"), due_at=this_week_at(1), owner=worker)
    worker_name, mine_ref, theirs_ref = worker.name, mine.reference, theirs.reference

    html = client.get("/followups/week").get_data(as_text=True)
    assert html.count('class="followup status-') == 1
    assert worker_name in html  # the coordinator sees who owns each
    assert mine_ref in html and theirs_ref not in html
    assert client.get("/followups/week?scope=mine").get_data(as_text=True).count('class="followup status-') == 0


def test_other_weeks_and_bad_weeks(client, worker_setup, create_follow_up):
    create_follow_up(worker_setup["relative"], due_at=this_week_at(8), owner=worker_setup["worker"])
    next_week = Week.containing(utcnow()).shifted(1)

    assert client.get(f"/followups/week?week={next_week}").get_data(as_text=True).count(
        'class="followup status-') == 1
    assert client.get("/followups/week?week=2026-W77").status_code == 400
    assert client.get("/followups/week?scope=everyone").status_code == 400


def test_a_manager_has_no_week_page(client, logged_in):
    logged_in("manager")
    assert client.get("/followups/week").status_code == 403


def test_the_follow_up_page_offers_a_call_and_logs_the_access(client, session, worker_setup, create_follow_up):
    follow_up = create_follow_up(worker_setup["relative"], due_at=this_week_at(2), owner=worker_setup["worker"])

    page = client.get(f"/followups/{follow_up.id}")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="tel:+46709990001"' in html
    assert "Registrera utfall" in html and "Välj ett annat datum" in html
    [entry] = session.scalars(select(AccessLog)).all()
    assert (entry.user_id, entry.relative_id, entry.action) == (
        worker_setup["worker"].id, worker_setup["relative"].id, "followup_view")


def test_staff_not_on_the_incident_get_403(client, logged_in, create_incident, create_relative, create_follow_up,
                                           followup_snapshot):
    logged_in("outreach")
    follow_up = create_follow_up(create_relative(create_incident(snapshot=followup_snapshot), consent="given"),
                                 due_at=this_week_at(1))
    assert client.get(f"/followups/{follow_up.id}").status_code == 403
    assert client.get("/followups/999999").status_code == 404
    assert client.get("/followups/99999999999999").status_code == 404


def test_recording_reached_from_the_week_page_returns_there(client, session, worker_setup, create_follow_up):
    follow_up = create_follow_up(worker_setup["relative"], due_at=this_week_at(2), owner=worker_setup["worker"])
    token = csrf_token(client, "/followups/week")

    response = client.post(f"/followups/{follow_up.id}/outcome", data={
        "csrf_token": token, "version": "1", "outcome": "reached", "channel": "phone", "note": "Bra samtal",
        "next": "/followups/week?scope=mine"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/followups/week?scope=mine"
    session.expire_all()
    assert session.get(FollowUp, follow_up.id).status == FollowUpStatus.REACHED
    assert events(session, "followup.reached")[0].actor_id == worker_setup["worker"].id


def test_declined_from_the_page_cancels_the_rest(client, session, worker_setup, create_follow_up):
    relative, worker = worker_setup["relative"], worker_setup["worker"]
    now_due = create_follow_up(relative, due_at=this_week_at(2), owner=worker)
    later_id = create_follow_up(relative, due_at=this_week_at(30), owner=worker).id
    token = csrf_token(client, f"/followups/{now_due.id}")

    response = client.post(f"/followups/{now_due.id}/outcome", data={
        "csrf_token": token, "version": "1", "outcome": "declined", "decline_reason": "no_contact_wanted"},
        follow_redirects=True)

    assert "1 återstående uppföljningar ställdes in" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(FollowUp, later_id).status == FollowUpStatus.CANCELLED


def test_an_outcome_needs_a_csrf_token_and_a_choice(client, session, worker_setup, create_follow_up):
    follow_up = create_follow_up(worker_setup["relative"], due_at=this_week_at(2), owner=worker_setup["worker"])

    assert client.post(f"/followups/{follow_up.id}/outcome", data={"outcome": "reached"}).status_code == 403
    token = csrf_token(client, "/followups/week")
    assert client.post(f"/followups/{follow_up.id}/outcome", data={"csrf_token": token}).status_code == 422
    declined_without_reason = client.post(f"/followups/{follow_up.id}/outcome", data={
        "csrf_token": token, "outcome": "declined"})
    assert declined_without_reason.status_code == 422
    session.expire_all()
    assert session.get(FollowUp, follow_up.id).status == FollowUpStatus.PLANNED


def test_a_stale_form_is_refused_with_409(client, session, worker_setup, create_follow_up):
    follow_up = create_follow_up(worker_setup["relative"], due_at=this_week_at(2), owner=worker_setup["worker"])
    token = csrf_token(client, "/followups/week")
    client.post(f"/followups/{follow_up.id}/outcome", data={"csrf_token": token, "version": "1",
                                                            "outcome": "not_reached"})

    second = client.post(f"/followups/{follow_up.id}/outcome", data={"csrf_token": token, "version": "1",
                                                                     "outcome": "reached"})
    assert second.status_code == 409
    session.expire_all()
    assert session.get(FollowUp, follow_up.id).status == FollowUpStatus.NOT_REACHED


def test_reschedule_from_the_page(client, session, worker_setup, create_follow_up):
    follow_up = create_follow_up(worker_setup["relative"], due_at=this_week_at(2), owner=worker_setup["worker"])
    token = csrf_token(client, f"/followups/{follow_up.id}")
    new_day = (Week.containing(utcnow()).monday + timedelta(days=9)).isoformat()

    response = client.post(f"/followups/{follow_up.id}/reschedule", data={
        "csrf_token": token, "version": "1", "due_at": f"{new_day}T13:15", "reason": "relative_asked"})

    assert response.status_code == 302
    session.expire_all()
    moved = session.get(FollowUp, follow_up.id)
    assert moved.due_at == this_week_at(9, 13).replace(minute=15)
    assert client.post(f"/followups/{follow_up.id}/reschedule", data={
        "csrf_token": token, "due_at": "", "reason": "relative_asked"}).status_code == 422


def test_colleagues_on_the_incident_may_record_but_others_may_not(
        client, session, logged_in, create_user, create_incident, create_relative, create_follow_up,
        followup_snapshot):
    colleague = logged_in("outreach")
    owner = create_user("outreach")
    incident = create_incident(assigned=[colleague, owner], snapshot=followup_snapshot)
    follow_up = create_follow_up(create_relative(incident, consent="given"), due_at=this_week_at(1), owner=owner)
    other = create_follow_up(create_relative(incident, consent="given"), due_at=this_week_at(1), owner=owner)
    follow_up_id, other_id = follow_up.id, other.id
    manager_email = create_user("manager").email
    token = csrf_token(client, "/followups/week")
    assert client.post(f"/followups/{follow_up_id}/outcome", data={
        "csrf_token": token, "version": "1", "outcome": "reached"}).status_code == 302

    client.post("/logout", data={"csrf_token": token})
    login(client, manager_email)
    token = csrf_token(client, f"/followups/{other_id}")
    assert client.post(f"/followups/{other_id}/outcome", data={
        "csrf_token": token, "version": "1", "outcome": "reached"}).status_code == 403


def test_the_relative_page_shows_the_schedule_with_actions(client, session, worker_setup, create_follow_up):
    relative, worker = worker_setup["relative"], worker_setup["worker"]
    create_follow_up(relative, label="1d", due_at=this_week_at(-10), owner=worker, status="reached")
    create_follow_up(relative, label="1w", due_at=this_week_at(2), owner=worker)

    html = client.get(f"/relatives/{relative.id}").get_data(as_text=True)

    assert "Uppföljningskontakter" in html
    assert html.count('class="followup status-') == 2
    assert html.count('class="outcome-form"') == 1  # only the open one can get an outcome
    assert f'name="next" value="/relatives/{relative.id}#followups"' in html
