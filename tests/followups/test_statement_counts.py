"""The scheduler's sweeps cost a fixed number of statements per batch, whatever its size.

Each distinct recipient is checked once per batch; the outbox rows, their
status rows and the timeline events are written with one INSERT each.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from crisis.core.db import db
from crisis.followups.models import FollowUp
from crisis.followups.reminders import (
    claim_due_reminders,
    new_claim_token,
    reminder_horizon,
    send_claimed_reminders,
)
from tests.followups.helpers import NOW, events, local, outbox
from tests.statements import counting_statements

# What a batch may cost, whatever its size (the publish query after the commit included).
SEND_STEP_STATEMENTS = 18
ESCALATION_BATCH_STATEMENTS = 24


@pytest.fixture
def due_follow_ups(session, followup_setup, create_relative, create_user):
    """`n` follow-ups due today over ten relatives, owned by five workers (one with no phone)."""

    def factory(n: int, *, due=None) -> list[int]:
        incident = followup_setup["incident"]
        owners = [followup_setup["worker"]] + [create_user("outreach", phone=f"+4670111{k:04d}")
                                               for k in range(3)] + [create_user("outreach")]
        relatives = [followup_setup["relative"]] + [create_relative(incident, consent="given") for _ in range(9)]
        due = due or local(2026, 6, 22, 9)
        session.execute(insert(FollowUp), [
            {"incident_id": incident.id, "relative_id": relatives[k % 10].id, "key": f"followup:n-{k}",
             "label": "1w", "planned_due_at": due, "due_at": due + timedelta(seconds=k), "acute": False,
             "channel": "phone", "owner_user_id": owners[k % 5].id, "status": "planned", "attempts": 0,
             "version": 1, "created_at": NOW, "updated_at": NOW}
            for k in range(n)
        ])
        session.commit()
        return list(session.scalars(select(FollowUp.id).order_by(FollowUp.id)))

    return factory


def _send_step(session, size: int):
    horizon = reminder_horizon(NOW)
    token = new_claim_token()
    ids = claim_due_reminders(session, now=NOW, horizon=horizon, token=token, limit=size)
    session.commit()
    with counting_statements(db.engine) as statements:
        report = send_claimed_reminders(session, ids, token=token, now=NOW, horizon=horizon)
        session.commit()
    return report, statements


def test_a_200_row_reminder_batch_costs_a_fixed_number_of_statements(session, due_follow_ups):
    ids = due_follow_ups(200)
    report, statements = _send_step(session, 200)
    assert (report.sent, report.not_sent) == (160, 40)  # the fifth owner has no phone
    assert statements.count <= SEND_STEP_STATEMENTS, statements.describe()
    assert len(outbox(session, "followup_reminder")) == 160
    assert len(events(session, "followup.reminder_sent")) == 160
    assert len(events(session, "followup.reminder_not_sent")) == 40
    assert sorted(report.sent_ids + [e.subject_id for e in events(session, "followup.reminder_not_sent")]) == ids


def test_a_batch_of_ten_costs_what_a_batch_of_two_hundred_costs(session, due_follow_ups):
    due_follow_ups(210)
    _, small = _send_step(session, 10)
    _, large = _send_step(session, 200)
    assert small.count == large.count, (small.describe(), large.describe())


def test_an_overdue_escalation_batch_costs_a_fixed_number_of_statements(session, due_follow_ups):
    from crisis.followups.escalation import escalate_overdue_follow_ups

    due_follow_ups(100, due=NOW - timedelta(days=3))
    with counting_statements(db.engine) as statements:
        report = escalate_overdue_follow_ups(session, now=NOW, limit=100)
        session.commit()
    assert report.escalated == 100
    assert statements.count <= ESCALATION_BATCH_STATEMENTS, statements.describe()
    assert len(events(session, "followup.overdue_escalated")) == 100
    # owner (four of five have a phone) and coordinator, each once per follow-up
    assert len(outbox(session, "overdue_escalation")) == 80 + 100
