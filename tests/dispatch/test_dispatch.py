"""Dispatching: who is alerted, with which text, in one transaction with the dispatch."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crisis.auth.models import Availability
from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.dispatch.services import (
    DispatchError,
    ack_link,
    dispatch_staff,
    dispatch_team,
    find_by_token,
)
from crisis.incidents.access import is_assigned
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.services import set_opt_out
from crisis.timeline.models import TimelineEvent

pytestmark = pytest.mark.usefixtures("app_ctx")


def alerts(session) -> list[Message]:
    return list(session.scalars(select(Message).order_by(Message.id)))


def test_team_dispatch_alerts_the_first_in_the_on_call_order(session, create_world):
    world = create_world()

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    [alert] = alerts(session)
    assert alert.recipient_user_id == world.members[0].id
    assert alert.to_number == world.members[0].phone
    assert alert.dispatch_id == dispatch.id and alert.purpose == "dispatch"
    assert dispatch.status == DispatchStatus.PENDING
    assert dispatch.ack_deadline_at == dispatch.created_at + (alert.expires_at - alert.created_at)
    assert [(a.level, a.user_id) for a in dispatch.attempts] == [(0, world.members[0].id)]
    assert is_assigned(session, world.members[0], world.incident.id)  # the link opens for them


def test_alert_text_comes_from_the_playbook_in_the_recipients_language(session, create_world):
    world = create_world()
    world.members[0].language = "en"
    session.commit()

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    [alert] = alerts(session)
    ref = f"{world.incident.reference}-{dispatch.id}"
    assert alert.body == f"Alert {ref}: shooting. Acknowledge: {ack_link(dispatch)}"
    assert alert.language == "en"


def test_alert_carries_a_reference_and_a_link_never_a_name(session, create_world, create_relative):
    world = create_world(place="Rinkeby centrum")
    relative = create_relative(world.incident, name="Amina Hassan", phone="+46701740699")
    session.commit()

    dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    [alert] = alerts(session)
    for secret in ("Amina", "Hassan", "+46701740699", "Rinkeby", relative.label,
                   world.members[0].name, world.coordinator.name):
        assert secret not in alert.body
    link = re.search(r"https?://\S+/d/(\S+)$", alert.body)
    assert link and find_by_token(session, link.group(1)).id == alert.dispatch_id


def test_the_link_token_is_not_stored(session, create_world):
    world = create_world()
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    token = ack_link(dispatch).rsplit("/", 1)[1]
    assert dispatch.ack_token_hash != token and len(token) >= 20
    assert find_by_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_off_duty_members_are_skipped_and_busy_ones_come_after_available(session, create_world):
    world = create_world(4)
    first, second, third, fourth = world.members
    first.availability = Availability.OFF_DUTY
    second.availability = Availability.BUSY
    session.commit()

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    assert dispatch.attempts[0].user_id == third.id


def test_members_who_cannot_get_an_sms_are_skipped_with_the_reason(session, create_world, create_staff):
    world = create_world(3)
    world.members[0].phone = None
    set_opt_out(session, world.members[1].phone, opted_out=True, keyword="STOP")
    session.commit()

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    assert dispatch.attempts[0].user_id == world.members[2].id
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.created"))
    assert event.data["skipped"] == [{"user_id": world.members[0].id, "reason": "no_number"},
                                     {"user_id": world.members[1].id, "reason": "opted_out"}]


def test_a_team_nobody_can_be_alerted_in_goes_straight_to_the_coordinator(session, create_world):
    world = create_world(2)
    for member in world.members:
        member.phone = None
    session.commit()

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    assert dispatch.status == DispatchStatus.EXHAUSTED
    [alert] = alerts(session)
    assert alert.recipient_user_id == world.coordinator.id and alert.purpose == "dispatch_escalation"


def test_named_staff_get_one_dispatch_each(session, create_world):
    world = create_world(3)

    dispatches = dispatch_staff(session, incident=world.incident, users=world.members[:2], actor=world.coordinator)
    session.commit()

    assert [d.user_id for d in dispatches] == [m.id for m in world.members[:2]]
    assert [m.recipient_user_id for m in alerts(session)] == [m.id for m in world.members[:2]]
    assert len({d.reference for d in dispatches}) == 2


def test_dispatch_to_a_visit_names_the_visits_task(session, create_world):
    from crisis.tasks.models import Task, TaskCategory

    world = create_world()
    task = Task(incident_id=world.incident.id, title={"sv": "Hembesök", "en": "Home visit"},
                category=TaskCategory.OUTREACH)
    session.add(task)
    session.commit()

    with pytest.raises(DispatchError, match="ska ange besökets uppgift"):
        dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator, purpose="visit")
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator,
                             purpose="visit", task=task)
    session.commit()

    assert dispatch.task_id == task.id
    assert "besök (skjutning)" in alerts(session)[0].body


def test_closed_incident_cannot_be_dispatched_to(session, create_world):
    world = create_world(status="closed")
    with pytest.raises(DispatchError, match="är avslutad"):
        dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)


def test_dispatch_and_its_alerts_commit_or_roll_back_together(session, create_world):
    world = create_world()
    dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.rollback()

    assert session.scalar(select(func.count(Dispatch.id))) == 0
    assert session.scalar(select(func.count(Message.id))) == 0
    assert session.scalar(select(func.count(TimelineEvent.id)).where(TimelineEvent.kind == "dispatch")) == 0


def test_dispatch_is_on_the_timeline_of_the_incident_without_names(session, create_world):
    world = create_world()
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.created"))
    assert event.incident_id == world.incident.id
    assert (event.subject_type, event.subject_id) == ("dispatch", dispatch.id)
    assert event.actor_id == world.coordinator.id
    assert event.data["alerted"] == [world.members[0].id]
    assert world.members[0].name not in event.summary
    assert all(m.status == MessageStatus.QUEUED for m in alerts(session))
