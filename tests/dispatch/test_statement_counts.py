"""Dispatching to many people costs a fixed number of statements, whatever their number."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crisis.core.db import db
from crisis.dispatch.models import Dispatch, DispatchAttempt
from crisis.dispatch.services import dispatch_staff
from crisis.messaging.models import Message, MessageStatusEvent
from crisis.timeline.models import TimelineEvent
from tests.statements import counting_statements

pytestmark = pytest.mark.usefixtures("app_ctx")

DISPATCH_STATEMENTS = 16
# The one person without a phone makes the coordinator be alerted at once (issue 12): one more
# alert, whose cost does not depend on how many others were dispatched.
COORDINATOR_ALERT_STATEMENTS = 18


def _staff(session, create_user, n: int, offset: int = 0) -> list:
    people = [create_user("outreach", phone=f"+46701{offset + k:06d}", password=None) for k in range(n)]
    people.append(create_user("outreach", password=None))  # no phone: dispatched, not texted
    session.commit()
    return people


def _dispatch(session, world, people, actor):
    with counting_statements(db.engine) as statements:
        dispatches = dispatch_staff(session, incident=world.incident, users=people, actor=actor)
        session.commit()
    return dispatches, statements


def test_a_100_recipient_dispatch_costs_a_fixed_number_of_statements(session, create_world, create_user):
    world = create_world(1)
    people = _staff(session, create_user, 100)
    dispatches, statements = _dispatch(session, world, people, world.coordinator)
    assert statements.count <= DISPATCH_STATEMENTS + COORDINATOR_ALERT_STATEMENTS, statements.describe()
    assert len(dispatches) == 101
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Dispatch) == 101
    assert count(DispatchAttempt) == 102  # the 101, and the coordinator told about the one without a phone
    assert count(Message) == 101 and count(MessageStatusEvent) == 101
    assert count(TimelineEvent) == 102  # 101 dispatches, and the escalation to the coordinator
    # Each dispatch has its own working acknowledgement link and its own text.
    assert len({d.ack_token_hash for d in dispatches}) == 101
    texts = {m.recipient_user_id: m for m in session.scalars(select(Message))}
    for dispatch in dispatches[:100]:
        assert texts[dispatch.user_id].dispatch_id == dispatch.id
        assert dispatch.reference in texts[dispatch.user_id].body
    assert dispatches[100].attempts[0].message_id is None


def test_five_recipients_cost_what_a_hundred_cost(session, create_world, create_user):
    world = create_world(1)
    # The pinned playbook is read once, then kept; the coordinator is already on the incident.
    _dispatch(session, world, [*world.members, *_staff(session, create_user, 0, offset=900)], world.coordinator)
    _, few = _dispatch(session, world, _staff(session, create_user, 5), world.coordinator)
    _, many = _dispatch(session, world, _staff(session, create_user, 100, offset=500), world.coordinator)
    assert few.count == many.count, (few.describe(), many.describe())
