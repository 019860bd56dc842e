"""Overdue follow-ups escalate once, to the people the incident's playbook names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisis.followups.escalation import run_followup_escalation
from crisis.followups.models import FollowUp
from tests.followups.helpers import NOW, PLAYBOOK_CONTENT, events, local, outbox

# Jobs run inside an app context in the scheduler; so do they here (links, PUBLIC_BASE_URL).
pytestmark = pytest.mark.usefixtures("app_ctx")


def test_a_follow_up_open_a_day_after_it_was_due_escalates_once(session, followup_setup, create_follow_up):
    incident = followup_setup["incident"]
    late = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 19, 9, 30), label="1w",
                            owner=followup_setup["worker"])
    create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 21, 13), owner=followup_setup["worker"])

    first = run_followup_escalation(session, now=NOW)
    second = run_followup_escalation(session, now=NOW + timedelta(hours=2))

    assert (first.ids, second.escalated) == ([late.id], 0)
    messages = outbox(session, "overdue_escalation")
    # The playbook says owner and coordinator.
    assert sorted(m.recipient_user_id for m in messages) == sorted(
        [followup_setup["worker"].id, followup_setup["coordinator"].id])
    assert messages[0].body == (f"Försenad uppgift {incident.reference} (uppföljning), deadline "
                                f"2026-06-19 fre 09:30. Logga in: http://127.0.0.1:5000/followups/{late.id}")
    session.expire_all()
    assert session.get(FollowUp, late.id).escalated_at == NOW
    [event] = events(session, "followup.overdue_escalated")
    assert event.actor_label == "scheduler"
    assert event.data["notified_roles"] == ["owner", "coordinator"]
    assert "told owner, coordinator" in event.summary


def test_acute_follow_ups_escalate_after_two_hours_and_at_night(session, followup_setup, create_follow_up):
    night = local(2026, 6, 23, 2, 0)
    acute = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 23, 30), acute=True,
                             owner=followup_setup["worker"])
    ordinary = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 19, 10),
                                owner=followup_setup["worker"])

    report = run_followup_escalation(session, now=night)

    assert report.ids == [acute.id]  # the non-acute one waits for the morning
    assert run_followup_escalation(session, now=local(2026, 6, 23, 7, 0)).ids == [ordinary.id]


def test_done_and_cancelled_follow_ups_do_not_escalate(session, followup_setup, create_follow_up):
    for status in ("reached", "declined", "cancelled"):
        create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 10), status=status)

    assert run_followup_escalation(session, now=NOW).escalated == 0


def test_managers_of_the_district_are_told_when_the_playbook_says_so(
        session, create_user, create_snapshot, create_incident, create_relative, create_district, create_follow_up):
    content = {**PLAYBOOK_CONTENT, "escalation": {**PLAYBOOK_CONTENT["escalation"],
                                                  "task_overdue_notify": ["owner", "coordinator", "manager"]}}
    district, elsewhere = create_district(), create_district()
    manager = create_user("manager", phone="+46701110020", district=district)
    create_user("manager", phone="+46701110021", district=elsewhere)
    coordinator = create_user("coordinator", phone="+46701110022")
    incident = create_incident(district=district, coordinator=coordinator,
                               snapshot=create_snapshot(content, "with-managers"))
    create_follow_up(create_relative(incident, consent="given"), due_at=local(2026, 6, 18), owner=None)

    report = run_followup_escalation(session, now=NOW)

    assert report.escalated == 1
    assert sorted(m.recipient_user_id for m in outbox(session, "overdue_escalation")) == sorted(
        [coordinator.id, manager.id])


def test_a_recipient_without_phone_is_recorded_not_fatal(session, followup_setup, create_follow_up, create_user):
    no_phone = create_user("outreach")
    create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 18), owner=no_phone)

    run_followup_escalation(session, now=NOW)

    [event] = events(session, "followup.overdue_escalated")
    assert event.data["not_sent"] == [{"user_id": no_phone.id, "role": "owner", "reason": "no_number"}]
    assert event.data["notified_user_ids"] == [followup_setup["coordinator"].id]
