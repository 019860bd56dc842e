"""Reminders to follow-up owners: what is due, what the SMS says, and the claim protocol.

These run on SQLite and PostgreSQL; the multi-process proofs are in
test_concurrency.py (PostgreSQL).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crisis.followups import reminders
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.followups.reminders import (
    CLAIM_STALE_AFTER,
    MAX_CLAIM_ATTEMPTS,
    claim_due_reminders,
    new_claim_token,
    reminder_horizon,
    run_reminder_sweep,
    send_claimed_reminders,
)
from tests.followups.helpers import NOW, events, local, outbox

# Jobs run inside an app context in the scheduler; so do they here (links, PUBLIC_BASE_URL).
pytestmark = pytest.mark.usefixtures("app_ctx")


def test_due_follow_up_reminds_its_owner_once_with_reference_link_and_time(
        session, followup_setup, create_follow_up):
    incident, worker = followup_setup["incident"], followup_setup["worker"]
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 14, 30),
                                 owner=worker, label="1w")

    report = run_reminder_sweep(session, now=NOW)
    again = run_reminder_sweep(session, now=NOW + timedelta(minutes=1))

    assert (report.sent, again.sent, again.claimed) == (1, 0, 0)
    [message] = outbox(session, "followup_reminder")
    assert message.recipient_user_id == worker.id
    assert message.to_number == worker.phone
    assert message.incident_id == incident.id
    assert message.body == (f"Påminnelse: uppföljning {incident.reference} senast 2026-06-22 mån 14:30. "
                            f"Logga in: http://127.0.0.1:5000/followups/{follow_up.id}")
    assert message.idempotency_key == f"followup-reminder:{follow_up.id}:{int(follow_up.due_at.timestamp())}"
    session.expire_all()
    row = session.get(FollowUp, follow_up.id)
    assert row.reminder_sent_at == NOW
    assert (row.claim_token, row.claimed_at) == (None, None)
    assert row.version == 1  # scheduler bookkeeping is not an edit
    [event] = events(session, "followup.reminder_sent")
    assert event.actor_label == "scheduler"
    assert event.incident_id == incident.id
    assert (event.subject_type, event.subject_id) == ("followup", follow_up.id)
    assert event.data["message_id"] == message.id


def test_reminder_never_names_the_relative(session, followup_setup, create_follow_up, create_relative):
    relative = create_relative(followup_setup["incident"], consent="given", name="Fatima Testsson",
                               phone="+46709998877")
    create_follow_up(relative, due_at=local(2026, 6, 22, 11), owner=followup_setup["worker"])

    run_reminder_sweep(session, now=NOW)

    [message] = outbox(session, "followup_reminder")
    [event] = events(session, "followup.reminder_sent")
    for text in (message.body, event.summary, str(event.data)):
        assert "Fatima" not in text and "9998877" not in text


def test_reminder_in_the_owners_language(session, followup_setup, create_follow_up, create_user):
    english = create_user("outreach", phone="+46701110009")
    english.language = "en"
    session.commit()
    create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 16), owner=english)

    run_reminder_sweep(session, now=NOW)

    [message] = outbox(session, "followup_reminder")
    assert message.body.startswith(f"Reminder: follow-up {followup_setup['incident'].reference} due 2026-06-22 Mon 16:00.")
    assert message.language == "en"


def test_only_follow_ups_due_today_are_reminded(session, followup_setup, create_follow_up):
    relative, worker = followup_setup["relative"], followup_setup["worker"]
    today_late = create_follow_up(relative, due_at=local(2026, 6, 22, 23, 30), owner=worker)
    overdue = create_follow_up(relative, due_at=local(2026, 6, 19, 9), owner=worker)
    create_follow_up(relative, due_at=local(2026, 6, 23, 0, 30), owner=worker)  # tomorrow
    create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker, status="reached")
    create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker, status="cancelled")
    retry = create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker, status="not_reached")

    report = run_reminder_sweep(session, now=NOW)

    assert sorted(report.sent_ids) == sorted([today_late.id, overdue.id, retry.id])


def test_no_reminders_at_night(session, followup_setup, create_follow_up):
    create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9), owner=followup_setup["worker"])

    assert reminder_horizon(local(2026, 6, 22, 6, 59)) is None
    assert reminder_horizon(local(2026, 6, 22, 21, 0)) is None
    assert run_reminder_sweep(session, now=local(2026, 6, 22, 6, 30)).sent == 0
    assert run_reminder_sweep(session, now=local(2026, 6, 22, 7, 0)).sent == 1


def test_follow_ups_of_closed_incidents_and_anonymised_relatives_are_not_reminded(
        session, followup_setup, create_follow_up, create_relative):
    relative, worker = followup_setup["relative"], followup_setup["worker"]
    gone = create_relative(followup_setup["incident"], consent="given")
    create_follow_up(gone, due_at=local(2026, 6, 22, 9), owner=worker)
    gone.anonymised_at = NOW - timedelta(days=1)
    session.commit()

    assert run_reminder_sweep(session, now=NOW).sent == 0
    create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker)
    followup_setup["incident"].status = "closed"
    session.commit()
    assert run_reminder_sweep(session, now=NOW).sent == 0


def test_without_an_owner_the_coordinator_is_reminded(session, followup_setup, create_follow_up):
    create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9), owner=None)

    run_reminder_sweep(session, now=NOW)

    [message] = outbox(session, "followup_reminder")
    assert message.recipient_user_id == followup_setup["coordinator"].id


def test_owner_without_phone_is_recorded_once_and_not_retried(
        session, followup_setup, create_follow_up, create_user):
    no_phone = create_user("outreach")
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9), owner=no_phone)

    first = run_reminder_sweep(session, now=NOW)
    later = run_reminder_sweep(session, now=NOW + timedelta(hours=1))

    assert (first.not_sent, later.claimed) == (1, 0)
    assert outbox(session, "followup_reminder") == []
    [event] = events(session, "followup.reminder_not_sent")
    assert event.data["reason"] == "no_number"
    session.expire_all()
    row = session.get(FollowUp, follow_up.id)
    assert row.reminder_sent_at is None
    assert row.attempts == MAX_CLAIM_ATTEMPTS


def test_claimed_rows_are_not_claimed_again(session, followup_setup, create_follow_up):
    for hour in (8, 9, 11):
        create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, hour), owner=followup_setup["worker"])
    horizon = reminder_horizon(NOW)

    first = claim_due_reminders(session, now=NOW, horizon=horizon, token=new_claim_token(), limit=2)
    session.commit()
    second = claim_due_reminders(session, now=NOW, horizon=horizon, token=new_claim_token(), limit=10)
    session.commit()
    third = claim_due_reminders(session, now=NOW, horizon=horizon, token=new_claim_token(), limit=10)
    session.commit()

    assert len(first) == 2 and len(second) == 1 and third == []
    assert not set(first) & set(second)


def test_a_claim_taken_over_after_going_stale_is_not_acted_on_by_the_first_claimant(
        session, followup_setup, create_follow_up):
    """Process A claims and stalls; the claim goes stale; B releases it, claims and sends.
    When A wakes up, its conditional update finds the row no longer its own: no second SMS."""
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9),
                                 owner=followup_setup["worker"])
    horizon = reminder_horizon(NOW)
    token_a = new_claim_token()
    assert claim_due_reminders(session, now=NOW, horizon=horizon, token=token_a) == [follow_up.id]
    session.commit()

    later = NOW + CLAIM_STALE_AFTER + timedelta(minutes=1)
    report_b = run_reminder_sweep(session, now=later)
    assert (report_b.released, report_b.sent) == (1, 1)

    late_a = send_claimed_reminders(session, [follow_up.id], token=token_a, now=later, horizon=horizon)
    session.commit()
    assert (late_a.sent, late_a.skipped) == (0, 1)
    assert len(outbox(session, "followup_reminder")) == 1
    session.expire_all()
    assert session.get(FollowUp, follow_up.id).attempts == 2


def test_an_outcome_recorded_while_claimed_means_no_reminder(session, followup_setup, create_follow_up):
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9),
                                 owner=followup_setup["worker"])
    horizon = reminder_horizon(NOW)
    token = new_claim_token()
    claim_due_reminders(session, now=NOW, horizon=horizon, token=token)
    session.commit()
    session.execute(update(FollowUp).where(FollowUp.id == follow_up.id).values(status=FollowUpStatus.REACHED))
    session.commit()

    report = send_claimed_reminders(session, [follow_up.id], token=token, now=NOW, horizon=horizon)
    session.commit()

    assert (report.sent, report.skipped) == (0, 1)
    assert outbox(session, "followup_reminder") == []
    session.expire_all()
    assert session.get(FollowUp, follow_up.id).claim_token is None


def test_stale_claims_are_retried_a_bounded_number_of_times_then_given_up(
        session, followup_setup, create_follow_up):
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9),
                                 owner=followup_setup["worker"])
    moment = NOW
    for _ in range(MAX_CLAIM_ATTEMPTS):  # a process that dies after every claim
        horizon = reminder_horizon(moment)
        reminders.release_stale_claims(session, now=moment)
        assert claim_due_reminders(session, now=moment, horizon=horizon, token=new_claim_token()) == [follow_up.id]
        session.commit()
        moment += CLAIM_STALE_AFTER + timedelta(minutes=1)

    report = run_reminder_sweep(session, now=moment)

    assert (report.released, report.abandoned, report.claimed) == (1, 1, 0)
    released = events(session, "scheduler.stale_claims_released")
    assert len(released) == MAX_CLAIM_ATTEMPTS
    assert released[-1].data["follow_up_ids"] == [follow_up.id]
    [event] = events(session, "followup.reminder_given_up")
    assert event.data == {"follow_up_id": follow_up.id, "attempts": MAX_CLAIM_ATTEMPTS,
                          "reason": "claims_went_stale"}
    assert outbox(session, "followup_reminder") == []


def test_a_failing_reminder_does_not_stop_the_batch_and_is_retried(
        session, followup_setup, create_follow_up, monkeypatch):
    relative, worker = followup_setup["relative"], followup_setup["worker"]
    broken = create_follow_up(relative, due_at=local(2026, 6, 22, 8), owner=worker)
    fine = create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker)
    real_body = reminders._reminder_body

    def body(incident, follow_up, recipient):
        # A bug in one row's text: the bulk batch fails, the row-by-row redo keeps the others.
        if follow_up.id == broken.id:
            raise RuntimeError("simulated bug")
        return real_body(incident, follow_up, recipient)

    monkeypatch.setattr(reminders, "_reminder_body", body)
    report = run_reminder_sweep(session, now=NOW, max_batches=1)
    assert (report.sent, report.failed) == (1, 1)
    assert report.sent_ids == [fine.id]

    monkeypatch.setattr(reminders, "_reminder_body", real_body)
    retry = run_reminder_sweep(session, now=NOW + timedelta(minutes=1))
    assert retry.sent_ids == [broken.id]
    assert len(outbox(session, "followup_reminder")) == 2


def test_a_new_due_date_gets_a_new_reminder(session, followup_setup, create_follow_up):
    from crisis.followups.services import reschedule

    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9),
                                 owner=followup_setup["worker"])
    run_reminder_sweep(session, now=NOW)
    reschedule(session, session.get(FollowUp, follow_up.id), actor=followup_setup["worker"],
               due_at=local(2026, 6, 23, 10), reason="relative_asked", now=NOW)
    session.commit()

    assert run_reminder_sweep(session, now=NOW + timedelta(minutes=5)).sent == 0
    assert run_reminder_sweep(session, now=local(2026, 6, 23, 7, 5)).sent == 1
    keys = [m.idempotency_key for m in outbox(session, "followup_reminder")]
    assert len(set(keys)) == 2


def test_the_outbox_key_guards_even_if_the_mark_was_lost(session, followup_setup, create_follow_up):
    """If reminder_sent_at were cleared by mistake, the unique idempotency key still stops a second SMS."""
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9),
                                 owner=followup_setup["worker"])
    run_reminder_sweep(session, now=NOW)
    session.execute(update(FollowUp).where(FollowUp.id == follow_up.id).values(reminder_sent_at=None))
    session.commit()

    report = run_reminder_sweep(session, now=NOW + timedelta(minutes=1))

    assert len(outbox(session, "followup_reminder")) == 1
    assert (report.claimed, report.sent, report.skipped) == (1, 0, 1)
    assert len(events(session, "followup.reminder_sent")) == 1
    session.expire_all()
    assert session.get(FollowUp, follow_up.id).reminder_sent_at is not None
    assert session.scalar(select(FollowUp.claim_token).where(FollowUp.id == follow_up.id)) is None


def test_the_dashboard_gets_exactly_the_committed_events_even_when_a_batch_is_redone(
        session, followup_setup, create_follow_up, monkeypatch):
    """The batch fails after the first reminder's event was recorded and is redone row by row.
    Nothing is published before the commit, and then exactly the events the timeline holds."""
    from crisis.timeline.models import TimelineEvent
    from crisis.timeline.services import add_publisher, remove_publisher

    relative, worker = followup_setup["relative"], followup_setup["worker"]
    fine = create_follow_up(relative, due_at=local(2026, 6, 22, 8), owner=worker)
    broken = create_follow_up(relative, due_at=local(2026, 6, 22, 9), owner=worker)
    also_fine = create_follow_up(relative, due_at=local(2026, 6, 22, 10), owner=worker)
    real_body = reminders._reminder_body

    def body(incident, follow_up, recipient):
        # A bug in one row's text: the bulk batch fails, the row-by-row redo keeps the others.
        if follow_up.id == broken.id:
            raise RuntimeError("simulated bug")
        return real_body(incident, follow_up, recipient)

    monkeypatch.setattr(reminders, "_reminder_body", body)
    horizon = reminder_horizon(NOW)
    token = new_claim_token()
    ids = claim_due_reminders(session, now=NOW, horizon=horizon, token=token)
    session.commit()
    published = []
    add_publisher(published.append)
    try:
        report = send_claimed_reminders(session, ids, token=token, now=NOW, horizon=horizon)
        assert published == []  # nothing reaches the dashboard before the commit
        session.commit()
    finally:
        remove_publisher(published.append)

    assert (sorted(report.sent_ids), report.failed) == (sorted([fine.id, also_fine.id]), 1)
    stored = {e.id for e in session.scalars(select(TimelineEvent).where(
        TimelineEvent.type == "followup.reminder_sent"))}
    sent_events = [e for e in published if e.type == "followup.reminder_sent"]
    assert len(sent_events) == 2 and {e.id for e in sent_events} == stored
    assert len(outbox(session, "followup_reminder")) == 2
