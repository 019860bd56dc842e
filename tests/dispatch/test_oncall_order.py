"""Dispatch and escalation order with a rota: the person on call, then the team's order, then the
coordinator; and the coordinator at once when nobody on call, or the person named, is reachable."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crisis.auth.models import Availability
from crisis.core.db import utcnow
from crisis.dispatch.models import DispatchStatus
from crisis.dispatch.services import dispatch_json, dispatch_staff, dispatch_team, escalate_dispatch
from crisis.messaging.services import set_opt_out
from crisis.oncall import services as oncall
from crisis.timeline.models import TimelineEvent

pytestmark = pytest.mark.usefixtures("app_ctx")


def put_on_call(session, team, user, hours: int = 12):
    now = utcnow()
    oncall.add_override(session, team, user=user, starts_at=now - timedelta(hours=1),
                        ends_at=now + timedelta(hours=hours), reason="swap", actor=None)
    session.commit()


def test_the_person_on_call_is_alerted_first_then_the_order_then_the_coordinator(session, create_world):
    world = create_world(3)
    first, second, third = world.members
    put_on_call(session, world.team, third)

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    assert [(a.level, a.user_id) for a in dispatch.attempts] == [(0, third.id)]
    for _ in range(3):
        assert escalate_dispatch(session, dispatch, reason="no_acknowledgement")
        session.commit()
    assert [(a.level, a.user_id) for a in dispatch.attempts] == [
        (0, third.id), (1, first.id), (2, second.id), (3, world.coordinator.id)]
    assert dispatch.status == DispatchStatus.EXHAUSTED
    assert dispatch.unreachable_reason is None


def test_a_weekly_rota_decides_who_is_first(session, create_world):
    world = create_world(2)
    first, second = world.members
    today = utcnow().astimezone(oncall.TZ).date()
    # second is on call every day: a one-day cycle with one 24-hour shift from midnight.
    oncall.save_rotation(session, world.team, starts_on=today - timedelta(days=3), cycle_days=1,
                         shifts=[oncall.ShiftSpec(0, 24 * 60, second.id)], actor=None)
    session.commit()
    assert oncall.who_is_on_call(session, world.team) == second
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    assert dispatch.attempts[0].user_id == second.id
    assert date.today()  # the rota started in the past


def test_nobody_on_call_reachable_alerts_the_coordinator_at_once(session, create_world):
    world = create_world(3)
    first, _second, third = world.members
    put_on_call(session, world.team, third)
    set_opt_out(session, third.phone, opted_out=True, keyword="STOP")
    session.commit()

    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    # The team's order goes on (first is alerted) and the coordinator hears at once, not after 10 minutes.
    assert [(a.level, a.user_id) for a in dispatch.attempts] == [(0, first.id), (0, world.coordinator.id)]
    assert dispatch.status == DispatchStatus.PENDING
    assert dispatch.unreachable_reason == "on_call_opted_out"
    assert dispatch_json(dispatch)["unreachable_reason"] == "on_call_opted_out"
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.coordinator_alerted"))
    assert event.data["reason"] == "on_call_opted_out" and event.data["unreachable_user_id"] == third.id


@pytest.mark.parametrize("problem", ["opted_out", "no_number", "off_duty"])
def test_a_person_dispatched_by_name_who_cannot_be_reached_alerts_the_coordinator_at_once(
        session, create_world, problem):
    world = create_world(2)
    person = world.members[1]
    if problem == "opted_out":
        set_opt_out(session, person.phone, opted_out=True, keyword="STOP")
    elif problem == "no_number":
        person.phone = None
    else:
        person.availability = Availability.OFF_DUTY
    session.commit()

    [dispatch] = dispatch_staff(session, incident=world.incident, users=[person], actor=world.coordinator)
    session.commit()
    assert dispatch.unreachable_reason == problem
    assert dispatch.status == DispatchStatus.EXHAUSTED  # open for anyone to take; coordinator told
    assert world.coordinator.id in {a.user_id for a in dispatch.attempts}
    escalated = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.escalated"))
    assert escalated.data["reason"] == problem and escalated.data["target"] == "coordinator"
