"""The morning summary: counts only, once per coordinator per day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisis.followups.summary import send_morning_summaries, summary_key
from crisis.messaging.models import Message
from crisis.tasks.models import Task
from tests.followups.helpers import NOW, events, local, outbox

pytestmark = pytest.mark.usefixtures("app_ctx")

MORNING = local(2026, 6, 22, 7, 30)


@pytest.fixture
def busy_coordinator(session, followup_setup, create_follow_up):
    """Two open tasks (one overdue), one done; two follow-ups today, one tomorrow."""
    incident, relative, worker = followup_setup["incident"], followup_setup["relative"], followup_setup["worker"]
    for due, status in ((local(2026, 6, 21, 9), "open"), (local(2026, 6, 30, 9), "in_progress"),
                        (local(2026, 6, 20, 9), "done")):
        session.add(Task(incident_id=incident.id, title={"sv": "Uppgift"}, category="coordination",
                         due_at=due, status=status, completed_at=NOW if status == "done" else None))
    session.commit()
    create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker)
    create_follow_up(relative, due_at=local(2026, 6, 22, 23, 30), owner=worker)
    create_follow_up(relative, due_at=local(2026, 6, 23, 9), owner=worker)
    create_follow_up(relative, due_at=local(2026, 6, 22, 10), owner=worker, status="reached")
    return followup_setup["coordinator"]


def test_each_coordinator_gets_counts_and_a_link_once_a_day(session, busy_coordinator):
    first = send_morning_summaries(session, now=MORNING)
    again = send_morning_summaries(session, now=MORNING + timedelta(minutes=5))

    assert (first.user_ids, again.sent) == ([busy_coordinator.id], 0)
    [message] = outbox(session, "morning_summary")
    assert message.recipient_user_id == busy_coordinator.id
    assert message.idempotency_key == summary_key(busy_coordinator.id, MORNING.date())
    assert message.body == ("God morgon. Öppna uppgifter: 2, försenade: 1, uppföljningar i dag: 2. "
                            "http://127.0.0.1:5000/")
    [event] = events(session, "user.morning_summary_sent")
    assert (event.actor_label, event.subject_id) == ("scheduler", busy_coordinator.id)
    assert event.data["count_followups"] == 2


def test_the_next_day_gets_a_new_summary(session, busy_coordinator):
    send_morning_summaries(session, now=MORNING)
    send_morning_summaries(session, now=MORNING + timedelta(days=1))

    assert len(outbox(session, "morning_summary")) == 2


@pytest.mark.parametrize("moment", [local(2026, 6, 22, 6, 55), local(2026, 6, 22, 11, 0),
                                    local(2026, 6, 22, 22, 0)])
def test_only_in_the_morning(session, busy_coordinator, moment):
    assert send_morning_summaries(session, now=moment).sent == 0


def test_a_summary_another_scheduler_sent_first_is_not_sent_again(session, busy_coordinator, monkeypatch):
    """Between our check and our insert another process sends it: the unique key refuses ours."""
    from crisis.followups import summary

    key = summary_key(busy_coordinator.id, MORNING.date())
    real_counts = summary.coordinator_counts

    def counts_then_race(session_, user, now):
        result = real_counts(session_, user, now)
        with session_.get_bind().connect() as other:  # a second connection: another scheduler
            other.execute(Message.__table__.insert().values(
                direction="outbound", purpose="morning_summary", body="God morgon.", language="sv",
                idempotency_key=key, recipient_user_id=user.id,
                status="queued", attempts=0, created_at=now))
            other.commit()
        return result

    monkeypatch.setattr(summary, "coordinator_counts", counts_then_race)
    report = send_morning_summaries(session, now=MORNING)

    assert (report.sent, report.already_sent) == (0, 1)
    assert len(outbox(session, "morning_summary")) == 1
    assert events(session, "user.morning_summary_sent") == []


def test_nothing_to_say_means_no_text(session, followup_setup):
    assert send_morning_summaries(session, now=MORNING).nothing_to_say == 1
    assert outbox(session) == []


def test_off_duty_coordinators_and_those_without_phone_are_left_out(
        session, busy_coordinator, create_user, create_incident):
    no_phone = create_user("coordinator")
    create_incident(coordinator=no_phone)
    busy_coordinator.availability = "off_duty"
    session.commit()

    report = send_morning_summaries(session, now=MORNING)

    assert report.sent == 0 and outbox(session) == []


def test_counts_are_per_coordinator(session, busy_coordinator, create_user, create_incident, create_snapshot):
    from tests.followups.helpers import PLAYBOOK_CONTENT

    other = create_user("coordinator", phone="+46701110099")
    incident = create_incident(coordinator=other, snapshot=create_snapshot(PLAYBOOK_CONTENT, "test-followups"))
    session.add(Task(incident_id=incident.id, title={"sv": "Uppgift"}, category="coordination",
                     due_at=local(2026, 6, 25, 9), status="open"))
    session.commit()

    send_morning_summaries(session, now=MORNING)

    bodies = {m.recipient_user_id: m.body for m in outbox(session, "morning_summary")}
    assert "Öppna uppgifter: 1, försenade: 0, uppföljningar i dag: 0" in bodies[other.id]
    assert "Öppna uppgifter: 2, försenade: 1, uppföljningar i dag: 2" in bodies[busy_coordinator.id]
