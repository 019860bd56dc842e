"""A hand-built city whose every report figure is known in advance.

Rows are written directly with the models (no services, no playbook engine),
so each count, median and percentage below can be worked out by hand. The
data is laid out relative to `base`, so the same city serves the service
tests (a fixed date) and the page tests (a date in the past of the real clock).

District A (own SIG), district B (served by A's SIG), district C (nothing).
Period: 60 days from `base`; the report is made `now` = base + 90 days.

Incidents in the period: A 10 (5 shootings, 5 lethal violence; 5 injured,
5 deceased), B 5 (shootings, injured). City 15.

Relatives of those incidents (all adults 26-64 speaking Swedish):
  A: 10 women reached after 1, 2, ..., 10 hours; 5 men never reached.
     median 5.5 h, p90 9.1 h, reached 10 of 15 = 66.7 %
  B: 6 women reached after 2, 4, 6, 8, 10, 48 hours.
     median 7.0 h, p90 29.0 h, 100 %
  City: 16 of 21 reached = 76.2 %, median 6.0 h, p90 10.0 h.

Dispatches created in the period:
  A: 6 acknowledged after 2, 4, 6, 8, 10, 12 min; one cancelled unanswered (left out).
     median 7.0, p90 11.0
  B: 5 acknowledged after 1, 1, 1, 1, 30 min; 5 never acknowledged.
     median 1.0, p90 18.4
  City: 16 dispatches, 11 acknowledged; median 4.0, p90 12.0.

Follow-ups due in the period (relatives: A's and B's women):
  A: 12 due: 7 on time (4 reached on the due day, one of them at 23:30 Stockholm
     time; 1 reached the day before; 1 declined on the day;
     1 reached earlier in the morning), 5 late (1 reached 00:30 the next day
     Stockholm time, which is still the due day in UTC; 1 reached two days after, 1 still planned, 1 not reached,
     1 declined three days after). Left out: 1 cancelled, 1 due after the
     period, 1 due before it. 7 of 12 = 58.3 %.
  B: 5 due, all reached on the day: 100 %.
  City: 12 of 17 = 70.6 %.

Practical-help tasks with a deadline in the period:
  A: 10: 5 done by the deadline, 3 done after it, 2 still open = 50.0 %.
     Left out: 1 not applicable, 1 cancelled, 1 of category crisis support.
  B: none ("–").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.incidents.models import Relative
from crisis.reports.services import Period
from crisis.tasks.models import Task, TaskCategory, TaskStatus

FIXED_BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Stockholm
STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch):
    """Argon2 with RFC 9106 defaults costs ~0.3 s a user; these tests are about reports."""
    from argon2 import PasswordHasher

    from crisis.auth import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@dataclass
class City:
    base: datetime
    period: Period
    now: datetime
    districts: dict
    incidents: dict
    relatives: list
    staff: object


def _period_for(base: datetime) -> Period:
    start = base.astimezone(UTC).date()
    return Period(start, start + timedelta(days=59))


@pytest.fixture
def build_city(session, create_district, create_incident, create_user, create_snapshot):
    counter = iter(range(1, 100_000))

    def build(base: datetime = FIXED_BASE) -> City:
        period = _period_for(base)
        a = create_district("alby", has_own_sig=True, name="Alby")
        b = create_district("bergby", has_own_sig=False, served_by=a, name="Bergby")
        c = create_district("centrum", has_own_sig=True, name="Centrum")
        staff = create_user("outreach", district=a)
        snapshot = create_snapshot()

        def incident(district, type_, outcome, day):
            activated = base + timedelta(days=day)
            return create_incident(district=district, type=type_, outcome=outcome, snapshot=snapshot,
                                   occurred_at=activated - timedelta(hours=1), activated_at=activated)

        incidents = {
            "a": [incident(a, "shooting" if i < 5 else "lethal_violence", "injured" if i < 5 else "deceased", i)
                  for i in range(10)],
            "b": [incident(b, "shooting", "injured", 20 + i) for i in range(5)],
        }
        # Outside the period: activated the day before it starts, with a relative.
        before = incident(a, "shooting", "injured", -1)
        relatives = []

        def relative(inc, gender, hours):
            rel = Relative(incident_id=inc.id, label=f"Anhörig {next(counter)}", relation="parent",
                           is_child=False, age_band="26-64", gender=gender, language="sv",
                           name=f"Förnamn Efternamn{next(counter)}", phone=f"+467012{next(counter):05d}",
                           first_contact_at=inc.activated_at + timedelta(hours=hours) if hours is not None else None)
            session.add(rel)
            relatives.append(rel)
            return rel

        a_women = [relative(incidents["a"][i % 10], "woman", hours) for i, hours in enumerate(range(1, 11))]
        for i in range(5):
            relative(incidents["a"][i], "man", None)
        b_women = [relative(incidents["b"][i % 5], "woman", h) for i, h in enumerate((2, 4, 6, 8, 10, 48))]
        relative(before, "woman", 1)
        session.flush()

        # -- dispatches -------------------------------------------------------------------
        def dispatch(inc, minutes, status=None, created=None):
            created = created or inc.activated_at + timedelta(minutes=5)
            row = Dispatch(incident_id=inc.id, user_id=staff.id, created_at=created,
                           status=status or (DispatchStatus.ACKNOWLEDGED if minutes is not None
                                             else DispatchStatus.PENDING),
                           acknowledged_at=created + timedelta(minutes=minutes) if minutes is not None else None)
            session.add(row)

        for inc, minutes in zip(incidents["a"], (2, 4, 6, 8, 10, 12), strict=False):
            dispatch(inc, minutes)
        dispatch(incidents["a"][7], None, DispatchStatus.CANCELLED)
        for inc, minutes in zip(incidents["b"], (1, 1, 1, 1, 30), strict=True):
            dispatch(inc, minutes)
        for inc in incidents["b"]:
            dispatch(inc, None, DispatchStatus.EXHAUSTED)
        dispatch(before, 3, created=base - timedelta(days=2))

        # -- follow-ups ---------------------------------------------------------------------
        def follow_up(rel, due, status, completed=None):
            n = next(counter)
            session.add(FollowUp(incident_id=rel.incident_id, relative_id=rel.id, key=f"fu-{n}", label="1w",
                                 planned_due_at=due, due_at=due, status=status, completed_at=completed))

        due = base + timedelta(days=10)
        due_day = due.astimezone(STOCKHOLM).date()
        # The due *day* is a Stockholm day, not a UTC one.
        same_day_late_evening = datetime.combine(due_day, time(23, 30), STOCKHOLM).astimezone(UTC)
        just_after_midnight = datetime.combine(due_day + timedelta(days=1), time(0, 30), STOCKHOLM).astimezone(UTC)
        reached, declined = FollowUpStatus.REACHED, FollowUpStatus.DECLINED
        for i in range(3):
            follow_up(a_women[i], due, reached, due + timedelta(hours=2))
        follow_up(a_women[3], due, reached, same_day_late_evening)
        follow_up(a_women[4], due, reached, due - timedelta(days=1))
        follow_up(a_women[5], due, declined, due + timedelta(hours=1))
        follow_up(a_women[6], due, reached, due - timedelta(hours=1))
        follow_up(a_women[7], due, reached, just_after_midnight)
        follow_up(a_women[8], due, reached, due + timedelta(days=2))
        follow_up(a_women[9], due, FollowUpStatus.PLANNED)
        follow_up(a_women[0], due + timedelta(days=1), FollowUpStatus.NOT_REACHED)
        follow_up(a_women[1], due + timedelta(days=2), declined, due + timedelta(days=5))
        follow_up(a_women[2], due, FollowUpStatus.CANCELLED)
        follow_up(a_women[3], base + timedelta(days=70), reached, base + timedelta(days=70))
        follow_up(a_women[4], base - timedelta(days=3), reached, base - timedelta(days=3))
        for rel in b_women[:5]:
            follow_up(rel, due + timedelta(days=20), reached, due + timedelta(days=20, hours=3))

        # -- practical help -------------------------------------------------------------------
        def task(inc, deadline, status, completed=None, category=TaskCategory.PRACTICAL_HELP):
            session.add(Task(incident_id=inc.id, title={"sv": "Bouppteckning", "en": "Estate inventory"},
                             category=category, agency="skatteverket", due_at=deadline, status=status,
                             completed_at=completed))

        deadline = base + timedelta(days=30)
        for i in range(5):
            task(incidents["a"][i], deadline, TaskStatus.DONE, deadline - timedelta(days=i))
        for i in range(3):
            task(incidents["a"][i], deadline, TaskStatus.DONE, deadline + timedelta(days=1 + i))
        task(incidents["a"][3], deadline, TaskStatus.OPEN)
        task(incidents["a"][4], deadline, TaskStatus.IN_PROGRESS)
        task(incidents["a"][5], deadline, TaskStatus.NOT_APPLICABLE)
        task(incidents["a"][6], deadline, TaskStatus.CANCELLED)
        task(incidents["a"][7], deadline, TaskStatus.OPEN, category=TaskCategory.CRISIS_SUPPORT)
        session.commit()
        return City(base=base, period=period, now=base + timedelta(days=90),
                    districts={"a": a, "b": b, "c": c}, incidents=incidents, relatives=relatives, staff=staff)

    return build


@pytest.fixture
def city(build_city) -> City:
    return build_city()


def past_base() -> datetime:
    """A base far enough in the past of the real clock that every due date has passed."""
    today = datetime.now(UTC).date() - timedelta(days=120)
    return datetime(today.year, today.month, today.day, 9, 0, tzinfo=UTC)


def period_query(city: City) -> dict:
    return {"start": city.period.start.isoformat(), "end": city.period.end.isoformat()}


def as_date(value: str) -> date:
    return date.fromisoformat(value)


@pytest.fixture
def busy_city(session, create_district, create_incident, create_snapshot):
    """Seven districts of different sizes and speeds (seeded, so every run looks the same):
    for looking at the charts, not for exact figures."""
    import random

    rng = random.Random(8)
    base = past_base()
    snapshot = create_snapshot()
    served_by = create_district("rinkeby-kista", has_own_sig=True, name="Rinkeby-Kista")
    profiles = [  # (district, incidents, relatives per incident, hours to contact, share of follow-ups kept)
        (served_by, 14, 3, 6, 0.9),
        (create_district("farsta", has_own_sig=True, name="Farsta"), 9, 3, 10, 0.8),
        (create_district("enskede", has_own_sig=True, name="Enskede-Årsta-Vantör"), 11, 2, 20, 0.7),
        (create_district("sodermalm", has_own_sig=False, served_by=served_by, name="Södermalm"), 6, 3, 40, 0.55),
        (create_district("spanga", has_own_sig=True, name="Spånga-Tensta"), 10, 3, 8, 0.85),
        (create_district("skarholmen", has_own_sig=True, name="Skärholmen"), 7, 2, 16, 0.75),
        (create_district("norrmalm", has_own_sig=False, served_by=served_by, name="Norrmalm"), 1, 2, 30, 0.5),
    ]
    genders = ["woman", "woman", "man", "man", "unknown"]
    languages = ["sv", "sv", "sv", "ar", "so", "ti", "en"]
    for district, incidents, per_incident, hours, kept in profiles:
        for _i in range(incidents):
            activated = base + timedelta(days=rng.randint(0, 50), hours=rng.randint(0, 23))
            incident = create_incident(district=district, snapshot=snapshot, activated_at=activated,
                                       type=rng.choice(["shooting", "shooting", "lethal_violence"]),
                                       outcome=rng.choice(["injured", "deceased"]),
                                       occurred_at=activated - timedelta(hours=1))
            for _ in range(per_incident):
                child = rng.random() < 0.25
                reached = rng.random() < 0.85
                rel = Relative(incident_id=incident.id, label="Anhörig", relation="child" if child else "parent",
                               is_child=child, age_band="13-17" if child else rng.choice(["18-25", "26-64", "65+"]),
                               gender=rng.choice(genders), language=rng.choice(languages),
                               first_contact_at=activated + timedelta(hours=rng.uniform(0.3, 2) * hours)
                               if reached else None)
                session.add(rel)
                session.flush()
                due = activated + timedelta(days=rng.randint(1, 9))
                on_time = rng.random() < kept
                session.add(FollowUp(incident_id=incident.id, relative_id=rel.id, key=f"fu-{rel.id}", label="1w",
                                     due_at=due, status=FollowUpStatus.REACHED,
                                     completed_at=due if on_time else due + timedelta(days=2)))
    session.commit()
    return _period_for(base)
