"""Follow-ups on a weekend or Swedish public holiday move to the next working day; acute ones do not."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crisis.core.holidays import (
    holiday_name,
    is_working_day,
    next_working_day,
    next_working_moment,
    working_day_after,
)
from crisis.playbooks.engine import working_due
from tests.followups.helpers import local


@pytest.mark.parametrize(("day", "name"), [
    (date(2026, 6, 19), "Midsommarafton"),
    (date(2026, 6, 20), "Midsommardagen"),
    (date(2026, 12, 24), "Julafton"),
    (date(2026, 12, 25), "Juldagen"),
    (date(2026, 12, 26), "Annandag jul"),
    (date(2026, 12, 31), "Nyårsafton"),
    (date(2027, 1, 1), "Nyårsdagen"),
    (date(2026, 4, 3), "Långfredagen"),
    (date(2026, 4, 6), "Annandag påsk"),
    (date(2026, 5, 14), "Kristi himmelsfärdsdag"),
    (date(2026, 6, 6), "Nationaldagen"),
])
def test_swedish_holidays_come_from_the_holidays_package(day, name):
    assert holiday_name(day) == name
    assert not is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 6, 22), date(2026, 12, 23), date(2026, 4, 30), date(2026, 4, 2)])
def test_ordinary_weekdays_are_working_days(day):
    # Valborgsmässoafton and skärtorsdagen are half days at most: the follow-up stays.
    assert is_working_day(day)


@pytest.mark.parametrize(("planned", "expected"), [
    # Midsommarafton (Friday) -> Monday 22 June, same wall-clock time.
    (local(2026, 6, 19, 10, 0), local(2026, 6, 22, 10, 0)),
    # Juldagen (Friday 25 Dec) -> past annandag jul and the weekend -> Monday 28 December.
    (local(2026, 12, 25, 14, 15), local(2026, 12, 28, 14, 15)),
    # An ordinary Saturday -> Monday.
    (local(2026, 9, 12, 9, 30), local(2026, 9, 14, 9, 30)),
    # Nyårsafton (Thursday) and nyårsdagen -> Monday 4 January 2027.
    (local(2026, 12, 31, 11, 0), local(2027, 1, 4, 11, 0)),
    # Sunday 25 October, the end of summer time -> Monday at the same local time (one hour later in UTC).
    (local(2026, 10, 25, 13, 0), local(2026, 10, 26, 13, 0)),
    # A working day stays as it is.
    (local(2026, 6, 23, 8, 0), local(2026, 6, 23, 8, 0)),
])
def test_next_working_moment(planned, expected):
    assert next_working_moment(planned) == expected


def test_the_stockholm_date_decides_not_the_utc_date():
    # 00:30 on Monday 7 September in Stockholm is still Sunday in UTC: a working day, kept.
    monday_early = local(2026, 9, 7, 0, 30)
    assert monday_early.astimezone(UTC).weekday() == 6
    assert next_working_moment(monday_early) == monday_early
    # 01:00 on Saturday 5 September in Stockholm is Friday in UTC: a Saturday, moved.
    saturday_night = local(2026, 9, 5, 1, 0)
    assert saturday_night.astimezone(UTC).weekday() == 4
    assert next_working_moment(saturday_night) == local(2026, 9, 7, 1, 0)


def test_next_working_moment_refuses_naive_times():
    with pytest.raises(ValueError, match="aware"):
        next_working_moment(datetime(2026, 6, 19, 10, 0))


def test_next_working_day_and_working_day_after():
    assert next_working_day(date(2026, 6, 22)) == date(2026, 6, 22)
    assert next_working_day(date(2026, 6, 19)) == date(2026, 6, 22)
    assert working_day_after(date(2026, 6, 22)) == date(2026, 6, 23)
    assert working_day_after(date(2026, 12, 23)) == date(2026, 12, 28)


@pytest.mark.parametrize("planned", [local(2026, 6, 19, 10), local(2026, 12, 25, 14), local(2026, 9, 12, 9)])
def test_acute_follow_ups_keep_their_date(planned):
    """The acute first week does not wait for a weekend or holiday (issue 7)."""
    assert working_due(planned, acute=True) == planned
    assert working_due(planned, acute=False) == next_working_moment(planned) != planned


def test_follow_ups_laid_out_by_the_playbook_move_off_holidays_except_acute(
        session, create_user, create_district, create_team, create_snapshot, create_incident, create_relative):
    """End to end through the playbook engine: first contact on Friday 12 June 2026 at 10:00."""
    from sqlalchemy import select

    from crisis.followups.models import FollowUp
    from crisis.playbooks.engine import apply_playbook
    from tests.followups.helpers import PLAYBOOK_CONTENT

    content = {**PLAYBOOK_CONTENT, "follow_ups": {"for_each": "relative", "after": "first_contact",
                                                  "at": ["1d", "1w", "6mo"], "acute_within": "1d",
                                                  "channel": "phone"}}
    coordinator = create_user("coordinator", phone="+46701110001")
    incident = create_incident(coordinator=coordinator, snapshot=create_snapshot(content, "holiday-plan"))
    relative = create_relative(incident, consent="given", first_contact_at=local(2026, 6, 12, 10))
    session.expire_all()

    apply_playbook(session, incident)
    session.commit()

    rows = {f.label: f for f in session.scalars(select(FollowUp).where(FollowUp.relative_id == relative.id))}
    # 1d: Saturday 13 June, but acute (within 1d): kept.
    assert rows["1d"].acute
    assert rows["1d"].due_at == rows["1d"].planned_due_at == local(2026, 6, 13, 10)
    # 1w: Friday 19 June is midsommarafton: Monday 22 June at the same time.
    assert rows["1w"].planned_due_at == local(2026, 6, 19, 10)
    assert rows["1w"].due_at == local(2026, 6, 22, 10)
    # 6mo: Saturday 12 December: Monday 14 December.
    assert rows["6mo"].due_at == local(2026, 12, 14, 10)
