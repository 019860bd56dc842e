"""Recording outcomes (reached, not reached, declined) and moving follow-ups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.followups.services import (
    CANCELLED_BECAUSE_DECLINED,
    FollowUpError,
    record_outcome,
    reschedule,
)
from crisis.incidents.services import StaleVersion
from tests.followups.helpers import NOW, events, local


@pytest.fixture
def schedule(followup_setup, create_follow_up):
    """A relative's schedule: 1d (done), 1w (due today), 1mo and 3mo ahead."""
    relative, worker = followup_setup["relative"], followup_setup["worker"]
    return {
        "done": create_follow_up(relative, label="1d", due_at=local(2026, 6, 16, 10), owner=worker,
                                 status="reached", completed_at=local(2026, 6, 16, 11)),
        "today": create_follow_up(relative, label="1w", due_at=local(2026, 6, 22, 9), owner=worker),
        "month": create_follow_up(relative, label="1mo", due_at=local(2026, 7, 15, 9), owner=worker),
        "quarter": create_follow_up(relative, label="3mo", due_at=local(2026, 9, 15, 9), owner=worker),
    }


def test_reached_closes_the_follow_up_with_the_note_and_an_event(session, followup_setup, schedule):
    worker, follow_up = followup_setup["worker"], schedule["today"]

    record_outcome(session, follow_up, actor=worker, outcome="reached", note="Mår bättre, vill ha samtal om 1 mån",
                   channel="visit", expected_version=1, now=NOW)
    session.commit()

    session.expire_all()
    row = session.get(FollowUp, follow_up.id)
    assert row.status == FollowUpStatus.REACHED
    assert row.completed_at == NOW
    assert row.channel == "visit"
    assert row.outcome_note == "Mår bättre, vill ha samtal om 1 mån"
    assert row.version == 2
    [event] = events(session, "followup.reached")
    assert event.actor_id == worker.id
    assert event.data["note"] == "written"
    assert "Mår" not in str(event.data) and "Mår" not in event.summary  # the note stays out of the timeline


def test_reached_is_the_first_contact_when_none_was_recorded(session, followup_setup, schedule):
    relative = followup_setup["relative"]
    assert relative.first_contact_at is None

    record_outcome(session, schedule["today"], actor=followup_setup["worker"], outcome="reached", now=NOW)
    session.commit()

    session.expire_all()
    assert relative.first_contact_at == NOW
    assert len(events(session, "relative.first_contact")) == 1


def test_not_reached_retries_the_next_working_day_at_the_same_time(session, followup_setup, create_follow_up):
    friday = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 26, 14, 30),
                              owner=followup_setup["worker"])
    friday.reminder_sent_at = local(2026, 6, 26, 7)
    session.commit()

    record_outcome(session, friday, actor=followup_setup["worker"], outcome="not_reached",
                   now=local(2026, 6, 26, 15))
    session.commit()

    session.expire_all()
    row = session.get(FollowUp, friday.id)
    assert row.status == FollowUpStatus.NOT_REACHED
    assert row.due_at == local(2026, 6, 29, 14, 30)  # Monday
    assert row.planned_due_at == local(2026, 6, 26, 14, 30)
    assert row.reminder_sent_at is None  # the retry gets its own reminder
    assert row.completed_at is None
    [event] = events(session, "followup.not_reached")
    assert event.data["retry_due_at"] == local(2026, 6, 29, 14, 30).isoformat()


def test_not_reached_before_midsummer_retries_after_the_holidays(session, followup_setup, create_follow_up):
    follow_up = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 18, 10),
                                 owner=followup_setup["worker"])

    # Thursday 18 June; Friday is midsommarafton, then the weekend.
    record_outcome(session, follow_up, actor=followup_setup["worker"], outcome="not_reached",
                   now=local(2026, 6, 18, 11))

    assert follow_up.due_at == local(2026, 6, 22, 10)


def test_acute_not_reached_retries_the_next_day_even_on_a_holiday(session, followup_setup, create_follow_up):
    acute = create_follow_up(followup_setup["relative"], due_at=local(2026, 12, 24, 13), acute=True,
                             owner=followup_setup["worker"])

    record_outcome(session, acute, actor=followup_setup["worker"], outcome="not_reached",
                   now=local(2026, 12, 24, 13, 30))

    assert acute.due_at == local(2026, 12, 25, 13)  # juldagen: acute support does not wait


def test_a_retry_can_be_reached_later(session, followup_setup, schedule):
    follow_up, worker = schedule["today"], followup_setup["worker"]
    record_outcome(session, follow_up, actor=worker, outcome="not_reached", now=NOW)
    session.commit()

    record_outcome(session, follow_up, actor=worker, outcome="reached", now=NOW + timedelta(days=1))
    session.commit()

    assert follow_up.status == FollowUpStatus.REACHED


def test_declined_cancels_the_rest_of_that_relatives_follow_ups_with_the_reason(
        session, followup_setup, schedule, create_relative, create_follow_up):
    other_relative = create_relative(followup_setup["incident"], consent="given")
    others = create_follow_up(other_relative, due_at=local(2026, 7, 15, 9), owner=followup_setup["worker"])

    result = record_outcome(session, schedule["today"], actor=followup_setup["worker"], outcome="declined",
                            decline_reason="support_elsewhere", note="Har kontakt med Brottsofferjouren", now=NOW)
    session.commit()

    session.expire_all()
    declined = session.get(FollowUp, schedule["today"].id)
    assert declined.status == FollowUpStatus.DECLINED
    assert declined.cancel_reason == "declined:support_elsewhere"
    assert declined.completed_at == NOW
    assert sorted(f.id for f in result.cancelled) == sorted([schedule["month"].id, schedule["quarter"].id])
    for key in ("month", "quarter"):
        cancelled = session.get(FollowUp, schedule[key].id)
        assert cancelled.status == FollowUpStatus.CANCELLED
        assert cancelled.cancel_reason == CANCELLED_BECAUSE_DECLINED
    assert session.get(FollowUp, schedule["done"].id).status == FollowUpStatus.REACHED  # history stays
    assert session.get(FollowUp, others.id).status == FollowUpStatus.PLANNED  # another relative's
    [event] = events(session, "followup.declined")
    assert event.data["decline_reason"] == "support_elsewhere"
    assert sorted(event.data["cancelled_follow_up_ids"]) == sorted([schedule["month"].id, schedule["quarter"].id])
    assert "Brottsofferjouren" not in str(event.data)


def test_declined_also_cancels_a_pending_retry(session, followup_setup, schedule):
    worker = followup_setup["worker"]
    record_outcome(session, schedule["month"], actor=worker, outcome="not_reached", now=NOW)
    session.commit()

    result = record_outcome(session, schedule["today"], actor=worker, outcome="declined",
                            decline_reason="no_need", now=NOW)

    assert schedule["month"] in result.cancelled


def test_declined_needs_a_reason(session, followup_setup, schedule):
    with pytest.raises(FollowUpError, match="why the relative declined") as error:
        record_outcome(session, schedule["today"], actor=followup_setup["worker"], outcome="declined", now=NOW)
    assert error.value.field == "decline_reason"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"outcome": "maybe"}, "outcome"),
    ({"outcome": "reached", "channel": "pigeon"}, "channel"),
    ({"outcome": "declined", "decline_reason": "bored"}, "decline_reason"),
    ({"outcome": "reached", "note": "x" * 5001}, "note"),
])
def test_invalid_outcomes_say_which_field(session, followup_setup, schedule, kwargs, field):
    with pytest.raises(FollowUpError) as error:
        record_outcome(session, schedule["today"], actor=followup_setup["worker"], now=NOW, **kwargs)
    assert error.value.field == field


def test_an_outcome_on_a_closed_follow_up_is_refused(session, followup_setup, schedule):
    with pytest.raises(FollowUpError, match="already reached"):
        record_outcome(session, schedule["done"], actor=followup_setup["worker"], outcome="not_reached", now=NOW)


def test_a_stale_version_is_refused(session, followup_setup, schedule):
    with pytest.raises(StaleVersion) as error:
        record_outcome(session, schedule["today"], actor=followup_setup["worker"], outcome="reached",
                       expected_version=7, now=NOW)
    assert error.value.current_version == 1


def test_reschedule_moves_the_date_and_resets_the_reminder(session, followup_setup, schedule):
    follow_up = schedule["month"]
    session.execute(update(FollowUp).where(FollowUp.id == follow_up.id).values(reminder_sent_at=NOW))
    session.commit()
    saturday = local(2026, 7, 18, 11)

    reschedule(session, follow_up, actor=followup_setup["worker"], due_at=saturday, reason="relative_asked",
               expected_version=1, now=NOW)
    session.commit()

    session.expire_all()
    row = session.get(FollowUp, follow_up.id)
    assert row.due_at == saturday  # a date agreed with the relative is kept, weekend or not
    assert row.planned_due_at == local(2026, 7, 15, 9)
    assert row.reminder_sent_at is None
    [event] = events(session, "followup.rescheduled")
    assert event.data["reason"] == "relative_asked"
    assert event.data["working_day"] is False
    assert event.data["before"] == local(2026, 7, 15, 9).isoformat()


@pytest.mark.parametrize(("due_at", "message"), [
    (local(2026, 6, 21, 10), "in the past"),
    (local(2028, 8, 1, 10), "two years"),
])
def test_reschedule_refuses_past_and_far_dates(session, followup_setup, schedule, due_at, message):
    with pytest.raises(FollowUpError, match=message):
        reschedule(session, schedule["month"], actor=followup_setup["worker"], due_at=due_at,
                   reason="other", now=NOW)


def test_reschedule_refuses_naive_times_and_unknown_reasons(session, followup_setup, schedule):
    with pytest.raises(FollowUpError, match="time zone"):
        reschedule(session, schedule["month"], actor=followup_setup["worker"],
                   due_at=local(2026, 7, 1).replace(tzinfo=None), reason="other", now=NOW)
    with pytest.raises(FollowUpError, match="reason must be one of"):
        reschedule(session, schedule["month"], actor=followup_setup["worker"], due_at=local(2026, 7, 1),
                   reason="whim", now=NOW)


def test_rescheduling_a_cancelled_follow_up_is_refused(session, followup_setup, create_follow_up):
    cancelled = create_follow_up(followup_setup["relative"], due_at=local(2026, 7, 1), status="cancelled")
    with pytest.raises(FollowUpError, match="already cancelled"):
        reschedule(session, cancelled, actor=followup_setup["worker"], due_at=local(2026, 7, 2),
                   reason="other", now=NOW)
