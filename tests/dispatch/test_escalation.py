"""Escalation: the window from the playbook, the team's order, then the coordinator; once, and at once
when an alert cannot arrive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crisis.dispatch.models import DispatchStatus
from crisis.dispatch.services import (
    acknowledge_dispatch,
    dispatch_staff,
    dispatch_team,
    escalate_due_dispatches,
)
from crisis.messaging.gateway import PermanentSendError
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.sender import run_sender_sweep
from crisis.messaging.services import apply_status_callback, receive_inbound
from crisis.timeline.models import TimelineEvent

pytestmark = pytest.mark.usefixtures("app_ctx")


def alerted(dispatch) -> list[tuple[int, int]]:
    return [(a.level, a.user_id) for a in dispatch.attempts]


def test_nothing_happens_before_the_window_ends(session, create_world):
    world = create_world()
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    start = dispatch.created_at

    assert escalate_due_dispatches(session, now=start + timedelta(minutes=9, seconds=59)) == 0
    assert alerted(dispatch) == [(0, world.members[0].id)]


def test_silence_escalates_through_the_team_then_to_the_coordinator(session, create_world):
    world = create_world(3)
    first, second, third = world.members
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    start = dispatch.created_at

    assert escalate_due_dispatches(session, now=start + timedelta(minutes=10)) == 1
    assert alerted(dispatch)[-1] == (1, second.id)
    assert dispatch.ack_deadline_at == start + timedelta(minutes=20)
    assert dispatch.status == DispatchStatus.PENDING

    # The new window counts from the escalation, not from the dispatch.
    assert escalate_due_dispatches(session, now=start + timedelta(minutes=19)) == 0
    assert escalate_due_dispatches(session, now=start + timedelta(minutes=20)) == 1
    assert alerted(dispatch)[-1] == (2, third.id)

    assert escalate_due_dispatches(session, now=start + timedelta(minutes=30)) == 1
    assert alerted(dispatch)[-1] == (3, world.coordinator.id)
    assert dispatch.status == DispatchStatus.EXHAUSTED and dispatch.ack_deadline_at is None

    # The end of the chain: nothing more to escalate.
    assert escalate_due_dispatches(session, now=start + timedelta(hours=2)) == 0
    texts = session.scalars(select(Message).order_by(Message.id)).all()
    assert [m.purpose for m in texts] == ["dispatch", "dispatch_escalation", "dispatch_escalation",
                                          "dispatch_escalation"]
    assert texts[1].body.startswith(f"Obekräftat larm {dispatch.reference}")
    types = session.scalars(select(TimelineEvent.type).where(TimelineEvent.kind == "dispatch")
                            .order_by(TimelineEvent.id)).all()
    assert types == ["dispatch.created", "dispatch.escalated", "dispatch.escalated", "dispatch.escalated"]


def test_the_playbooks_window_is_used(session, create_world):
    world = create_world(escalation={"dispatch_ack_within": "3m"})
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    assert dispatch.ack_deadline_at - dispatch.created_at == timedelta(minutes=3)
    assert escalate_due_dispatches(session, now=dispatch.created_at + timedelta(minutes=3)) == 1
    # The alert is worth delivering only while someone can still act on it.
    [first_alert, _] = session.scalars(select(Message).order_by(Message.id)).all()
    assert first_alert.validity_s == 180


def test_a_playbook_that_escalates_only_to_the_coordinator_skips_the_team(session, create_world):
    world = create_world(3, escalation={"escalate_to": ["coordinator"]})
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    escalate_due_dispatches(session, now=dispatch.created_at + timedelta(minutes=10))

    assert alerted(dispatch) == [(0, world.members[0].id), (1, world.coordinator.id)]
    assert dispatch.status == DispatchStatus.EXHAUSTED


def test_named_person_escalates_through_the_chosen_team_after_them(session, create_world):
    world = create_world(3)
    first, second, third = world.members
    [dispatch] = dispatch_staff(session, incident=world.incident, users=[second], actor=world.coordinator,
                                escalation_team=world.team)
    session.commit()
    start = dispatch.created_at

    escalate_due_dispatches(session, now=start + timedelta(minutes=10))
    escalate_due_dispatches(session, now=start + timedelta(minutes=20))

    assert alerted(dispatch) == [(0, second.id), (1, third.id), (2, first.id)]


def test_named_person_without_a_team_escalates_to_the_coordinator(session, create_world):
    world = create_world(2)
    [dispatch] = dispatch_staff(session, incident=world.incident, users=[world.members[1]], actor=world.coordinator)
    session.commit()

    escalate_due_dispatches(session, now=dispatch.created_at + timedelta(minutes=10))

    assert alerted(dispatch) == [(0, world.members[1].id), (1, world.coordinator.id)]


def test_two_schedulers_escalate_once(session, create_world):
    from sqlalchemy.orm import Session

    from crisis.core.db import db
    from crisis.dispatch.models import Dispatch
    from crisis.dispatch.services import escalate_dispatch

    world = create_world(3)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    later = dispatch.created_at + timedelta(minutes=10)
    # A second scheduler process read the dispatch (pending, level 0) ...
    other = Session(db.engine, expire_on_commit=False)
    seen_by_other = other.get(Dispatch, dispatch.id)
    other.commit()

    # ... while the first one escalated it.
    assert escalate_due_dispatches(session, now=later) == 1
    assert escalate_dispatch(other, seen_by_other, reason="no_acknowledgement", now=later) is False
    other.commit()
    other.close()

    session.expire_all()
    assert alerted(session.get(Dispatch, dispatch.id)) == [(0, world.members[0].id), (1, world.members[1].id)]
    assert session.scalar(select(func.count(Message.id))) == 2


def test_acknowledged_dispatch_does_not_escalate_and_waiting_alerts_are_withdrawn(session, create_world):
    world = create_world(3)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    escalate_due_dispatches(session, now=dispatch.created_at + timedelta(minutes=10))
    session.commit()

    acknowledge_dispatch(session, dispatch, user=world.members[0], via="app")
    session.commit()

    assert escalate_due_dispatches(session, now=dispatch.created_at + timedelta(hours=1)) == 0
    statuses = [(m.purpose, m.status, m.error_code) for m in session.scalars(select(Message).order_by(Message.id))]
    assert statuses == [("dispatch", MessageStatus.FAILED, "acknowledged"),
                        ("dispatch_escalation", MessageStatus.FAILED, "acknowledged")]
    # Withdrawn texts are not failures anyone must act on.
    assert session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.failed")) is None


def test_an_alert_that_cannot_be_sent_escalates_at_once(session, create_world, recording_gateway, no_pacing):
    from crisis.messaging.sender import SenderSettings

    world = create_world(3)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    gateway = recording_gateway([PermanentSendError(21614, "not a mobile number", 400)])
    run_sender_sweep(session, gateway, SenderSettings(rate_per_second=0), pacer=no_pacing)

    session.refresh(dispatch)
    assert alerted(dispatch) == [(0, world.members[0].id), (1, world.members[1].id)]
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.alert_failed"))
    assert event.data["error_code"] == "21614"
    escalated = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.escalated"))
    assert escalated.data["reason"] == "not_delivered"


def test_an_undelivered_alert_reported_by_twilio_escalates_at_once(session, create_world):
    world = create_world(2)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    [alert] = session.scalars(select(Message)).all()
    alert.provider_id = "SM" + "1" * 32
    alert.status = MessageStatus.SENT
    session.commit()

    apply_status_callback(session, {"MessageSid": alert.provider_id, "MessageStatus": "undelivered",
                                    "ErrorCode": "30003"})
    session.commit()

    assert alerted(dispatch)[-1] == (1, world.members[1].id)
    # A late, repeated report changes nothing more.
    apply_status_callback(session, {"MessageSid": alert.provider_id, "MessageStatus": "undelivered",
                                    "ErrorCode": "30003"})
    session.commit()
    assert len(dispatch.attempts) == 2


def test_an_old_levels_failed_alert_does_not_escalate_again(session, create_world):
    world = create_world(3)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    [first_alert] = session.scalars(select(Message)).all()
    first_alert.provider_id = "SM" + "2" * 32
    session.commit()
    escalate_due_dispatches(session, now=dispatch.created_at + timedelta(minutes=10))
    session.commit()

    apply_status_callback(session, {"MessageSid": first_alert.provider_id, "MessageStatus": "failed"})
    session.commit()

    assert len(dispatch.attempts) == 2


def test_staff_opting_out_while_alerted_escalates_at_once(session, create_world):
    world = create_world(2)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()

    receive_inbound(session, {"MessageSid": "SM" + "3" * 32, "From": world.members[0].phone, "Body": "STOP"})
    session.commit()

    assert alerted(dispatch)[-1] == (1, world.members[1].id)


def test_without_an_incident_coordinator_the_serving_sig_coordinator_is_told(
        session, create_world, create_district, create_staff):
    sig = create_district(has_own_sig=True)
    served = create_district(has_own_sig=False, served_by=sig)
    sig_coordinator = create_staff("coordinator", district=sig)
    create_staff("coordinator", district=create_district())  # another SIG's: not told
    world = create_world(1, coordinator=False, district=served)
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=sig_coordinator)
    session.commit()

    escalate_due_dispatches(session, now=dispatch.created_at + timedelta(minutes=10))

    assert alerted(dispatch)[-1] == (1, sig_coordinator.id)
