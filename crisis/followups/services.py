"""The write side of follow-up contacts: outcomes and rescheduling, plus the
read queries the week lists and the relative's schedule are built from.

A follow-up is open while it is `planned` or `not_reached` (a retry is the
same row with a new due date, so re-applying the playbook, which works by
key, never duplicates or resurrects it). Recording an outcome or moving the
date resets the reminder bookkeeping, so the owner gets a reminder for the
new date. Every change appends its timeline event in the caller's
transaction; the caller commits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from crisis.auth.models import Role, User
from crisis.core.db import utcnow
from crisis.core.holidays import (
    STOCKHOLM,
    at_local_time_on,
    is_working_day,
    local_date,
    working_day_after,
)
from crisis.core.labels import lazy_label
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.incidents.access import can_edit_incident, can_see_relative_details, is_assigned
from crisis.incidents.models import ContactChannel, Incident, IncidentStatus, Relative
from crisis.incidents.services import IncidentError, StaleVersion, record_first_contact
from crisis.timeline.services import record_event

OPEN_STATUSES = (FollowUpStatus.PLANNED, FollowUpStatus.NOT_REACHED)
NOTE_MAX_LENGTH = 5000
# How far ahead a follow-up may be moved: the playbooks' schedules end at 12
# months (the anniversary), so two years leaves room without accepting typos
# such as 2062.
RESCHEDULE_HORIZON = timedelta(days=2 * 366)


class FollowUpOutcome(enum.StrEnum):
    REACHED = "reached"
    NOT_REACHED = "not_reached"
    DECLINED = "declined"  # the relative declined further contact


class DeclineReason(enum.StrEnum):
    """Why a relative declined further contact; a code, so it may go in the timeline."""

    NO_NEED = "no_need"  # says they manage without more support
    SUPPORT_ELSEWHERE = "support_elsewhere"  # e.g. Brottsofferjouren, health care
    NO_CONTACT_WANTED = "no_contact_wanted"
    OTHER = "other"


class RescheduleReason(enum.StrEnum):
    RELATIVE_ASKED = "relative_asked"
    OWNER_UNAVAILABLE = "owner_unavailable"
    INTERPRETER_BOOKING = "interpreter_booking"
    OTHER = "other"


# cancel_reason written on the relative's other follow-ups when they decline.
CANCELLED_BECAUSE_DECLINED = "relative_declined_further_contact"


class FollowUpError(IncidentError):
    """Input refused; the message says what to fix."""


def is_open(follow_up: FollowUp) -> bool:
    return follow_up.status in OPEN_STATUSES


# --- Who may do what ------------------------------------------------------------


def can_view_follow_up(session: Session, user: User, follow_up: FollowUp) -> bool:
    from crisis.incidents.access import can_view_incident

    if follow_up.owner_user_id == user.id:
        return True
    return can_view_incident(session, user, follow_up.relative.incident)


def can_work_on(session: Session, user: User, follow_up: FollowUp) -> bool:
    """Record an outcome or move the date: the owner, the incident's coordinators
    and admins, and outreach staff assigned to the incident (colleagues cover
    for each other). A relative with protected identity only by those who may
    see the relative's details (skyddade personuppgifter, docs/domain.md "Protected identity")."""
    relative = follow_up.relative
    if relative.protected_identity and follow_up.owner_user_id != user.id:
        return can_see_relative_details(session, user, relative)
    if follow_up.owner_user_id == user.id:
        return True
    if can_edit_incident(session, user, relative.incident):
        return True
    return user.has_role(Role.OUTREACH) and is_assigned(session, user, relative.incident_id)


# --- Dates ------------------------------------------------------------------------


def retry_due_at(follow_up: FollowUp, now: datetime) -> datetime:
    """When to try again after not reaching the relative: the next working day
    at the follow-up's usual time of day; the next day for acute follow-ups,
    which do not wait for a weekend or holiday to pass."""
    today = local_date(now)
    day = today + timedelta(days=1) if follow_up.acute else working_day_after(today)
    like = follow_up.due_at or follow_up.planned_due_at or now
    return at_local_time_on(day, like)


def is_shifted(follow_up: FollowUp) -> bool:
    """Due on another day than the playbook said (moved off a holiday, rescheduled, retried)."""
    if follow_up.due_at is None or follow_up.planned_due_at is None:
        return False
    return follow_up.due_at != follow_up.planned_due_at


# --- Outcomes -------------------------------------------------------------------


@dataclass
class OutcomeResult:
    follow_up: FollowUp
    cancelled: list[FollowUp]


def _check_version(follow_up: FollowUp, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != follow_up.version:
        raise StaleVersion(follow_up.version)


def _check_open(follow_up: FollowUp) -> None:
    if not is_open(follow_up):
        raise FollowUpError(
            _l("This follow-up is already %(status)s; only a planned or not reached follow-up can get an "
               "outcome or a new date.", status=lazy_label("followup_status", follow_up.status)), "status",
        )


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise FollowUpError(_l("The note is longer than %(num)s characters.", num=NOTE_MAX_LENGTH), "note")
    return note or None


def _parse(enum_cls, value, field: str):
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise FollowUpError(f"{field} must be one of: {allowed} (got {value!r}).", field) from None


#: What a new due date resets: it gets its own reminder and its own escalation.
REMINDER_RESET = {"reminder_sent_at": None, "escalated_at": None, "attempts": 0, "claim_token": None,
                  "claimed_at": None}


def reset_reminder(follow_up: FollowUp) -> None:
    """A new due date gets its own reminder and its own escalation (also for the
    playbook engine when it re-dates a planned follow-up, crisis.followups.receivers)."""
    for key, value in REMINDER_RESET.items():
        setattr(follow_up, key, value)


def record_outcome(
    session: Session,
    follow_up: FollowUp,
    *,
    actor: User,
    outcome: str | FollowUpOutcome,
    note: str | None = None,
    channel: str | None = None,
    decline_reason: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> OutcomeResult:
    """Reached; not reached (try again the next working day); or declined
    further contact, which cancels the relative's remaining follow-ups."""
    now = now or utcnow()
    _check_version(follow_up, expected_version)
    _check_open(follow_up)
    result = _parse(FollowUpOutcome, outcome, "outcome")
    note = _clean_note(note)
    used_channel = _parse(ContactChannel, channel, "channel").value if channel else None
    reason = None
    if result == FollowUpOutcome.DECLINED:
        if not decline_reason:
            raise FollowUpError(_l("Say why the relative declined."), "decline_reason")
        reason = _parse(DeclineReason, decline_reason, "decline_reason")
    relative = follow_up.relative
    before = {"status": follow_up.status.value, "due_at": _iso(follow_up.due_at)}
    if used_channel:
        follow_up.channel = used_channel
    if note is not None:
        follow_up.outcome_note = note
    data = {"follow_up_id": follow_up.id, "relative_id": relative.id, "label": follow_up.label,
            "outcome": result.value, "before": before, "channel": follow_up.channel,
            "note": "written" if note else None}
    cancelled: list[FollowUp] = []

    if result == FollowUpOutcome.REACHED:
        follow_up.status = FollowUpStatus.REACHED
        follow_up.completed_at = now
        _release_claim(follow_up)
        summary = f"Follow-up {follow_up.label} with {relative.label}: reached"
    elif result == FollowUpOutcome.NOT_REACHED:
        follow_up.status = FollowUpStatus.NOT_REACHED
        follow_up.due_at = retry_due_at(follow_up, now)
        reset_reminder(follow_up)
        data["retry_due_at"] = _iso(follow_up.due_at)
        summary = (f"Follow-up {follow_up.label} with {relative.label}: not reached, "
                   f"new attempt {_short(follow_up.due_at)}")
    else:
        follow_up.status = FollowUpStatus.DECLINED
        follow_up.completed_at = now
        follow_up.cancel_reason = f"declined:{reason.value}"
        _release_claim(follow_up)
        cancelled = _cancel_remaining(session, follow_up, now)
        data["decline_reason"] = reason.value
        data["cancelled_follow_up_ids"] = [f.id for f in cancelled]
        summary = (f"{relative.label} declined further contact at follow-up {follow_up.label}; "
                   f"{len(cancelled)} remaining follow-ups cancelled")
    session.flush()
    record_event(session, kind="followup", type=f"followup.{result.value}", actor=actor,
                 incident_id=follow_up.incident_id, subject=follow_up, summary=summary, data=data)
    if result == FollowUpOutcome.REACHED:
        # Reaching the relative is contact; the first one anchors the playbook's
        # "after: first_contact" schedule (a no-op once it is known).
        record_first_contact(session, relative, actor=actor, at=now)
    return OutcomeResult(follow_up, cancelled)


def _cancel_remaining(session: Session, declined: FollowUp, now: datetime) -> list[FollowUp]:
    remaining = session.scalars(
        select(FollowUp)
        .where(FollowUp.relative_id == declined.relative_id, FollowUp.id != declined.id,
               FollowUp.status.in_(OPEN_STATUSES))
        .order_by(FollowUp.due_at, FollowUp.id)
    ).all()
    for other in remaining:
        other.status = FollowUpStatus.CANCELLED
        other.cancel_reason = CANCELLED_BECAUSE_DECLINED
        _release_claim(other)
    return list(remaining)


def _release_claim(follow_up: FollowUp) -> None:
    follow_up.claim_token = None
    follow_up.claimed_at = None


# --- Rescheduling ---------------------------------------------------------------


def reschedule(
    session: Session,
    follow_up: FollowUp,
    *,
    actor: User,
    due_at: datetime,
    reason: str | RescheduleReason,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> FollowUp:
    """Move an open follow-up to a new moment chosen by staff.

    A date agreed with the relative is kept even on a weekend or holiday:
    the automatic shift is for the playbook's dates, not for people's choices.
    """
    now = now or utcnow()
    _check_version(follow_up, expected_version)
    _check_open(follow_up)
    why = _parse(RescheduleReason, reason, "reason")
    if due_at is None or due_at.tzinfo is None:
        raise FollowUpError("due_at needs a date, a time and a time zone "
                            "(e.g. 2026-06-22T10:00:00+02:00).", "due_at")
    due_at = due_at.astimezone(UTC)
    if local_date(due_at) < local_date(now):
        raise FollowUpError(_l("The new date is in the past; pick today or a later day."), "due_at")
    if due_at > now + RESCHEDULE_HORIZON:
        raise FollowUpError(_l("The new date is more than two years ahead; check the year."), "due_at")
    before = follow_up.due_at
    if due_at == before:
        return follow_up
    follow_up.due_at = due_at
    reset_reminder(follow_up)
    session.flush()
    record_event(
        session, kind="followup", type="followup.rescheduled", actor=actor,
        incident_id=follow_up.incident_id, subject=follow_up,
        summary=f"Follow-up {follow_up.label} with {follow_up.relative.label} moved to {_short(due_at)}",
        data={"follow_up_id": follow_up.id, "relative_id": follow_up.relative_id, "reason": why.value,
              "before": _iso(before), "after": _iso(due_at),
              "working_day": is_working_day(local_date(due_at))},
    )
    return follow_up


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _short(moment: datetime | None) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if moment else "–"


# --- Reading --------------------------------------------------------------------


class WeekError(ValueError):
    pass


@dataclass(frozen=True)
class Week:
    """An ISO week in Stockholm: Monday 00:00 to the next Monday 00:00."""

    year: int
    number: int

    @classmethod
    def containing(cls, moment: datetime) -> Week:
        year, number, _ = local_date(moment).isocalendar()
        return cls(year, number)

    @classmethod
    def parse(cls, text: str) -> Week:
        """'2026-W25' (as <input type=week> sends it)."""
        try:
            year_text, number_text = text.strip().upper().split("-W")
            week = cls(int(year_text), int(number_text))
            week.monday  # noqa: B018  (validates: 2026-W54 does not exist)
        except (ValueError, AttributeError):
            raise WeekError(f"week must look like 2026-W25 (ISO year and week), not {text!r}.") from None
        if not 1900 <= week.year < 2200:
            raise WeekError(f"week must lie between the years 1900 and 2199, not {text!r}.")
        return week

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.monday, time(0), tzinfo=STOCKHOLM).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        return datetime.combine(self.monday + timedelta(days=7), time(0), tzinfo=STOCKHOLM).astimezone(UTC)

    def shifted(self, weeks: int) -> Week:
        year, number, _ = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return Week(year, number)

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"


class Scope(enum.StrEnum):
    MINE = "mine"  # follow-ups I own
    COORDINATED = "coordinated"  # every follow-up of the incidents I coordinate


def _with_relations(query: Select) -> Select:
    return query.options(
        selectinload(FollowUp.relative).selectinload(Relative.incident),
        selectinload(FollowUp.owner),
    )


def _scoped(user: User, scope: Scope) -> Select:
    query = select(FollowUp).join(Incident, Incident.id == FollowUp.incident_id).where(
        Incident.status != IncidentStatus.CLOSED
    )
    if scope == Scope.COORDINATED:
        return query.where(Incident.coordinator_id == user.id)
    return query.where(FollowUp.owner_user_id == user.id)


def week_follow_ups(session: Session, user: User, week: Week, scope: Scope) -> list[FollowUp]:
    """Follow-ups due in `week` (open and done; cancelled ones are left out)."""
    query = _scoped(user, scope).where(
        FollowUp.due_at >= week.starts_at, FollowUp.due_at < week.ends_at,
        FollowUp.status != FollowUpStatus.CANCELLED,
    ).order_by(FollowUp.due_at, FollowUp.id)
    return list(session.scalars(_with_relations(query)))


def overdue_follow_ups(session: Session, user: User, before: datetime, scope: Scope) -> list[FollowUp]:
    """Open follow-ups due before `before`: shown above the week so nothing drops out of sight."""
    query = _scoped(user, scope).where(
        FollowUp.due_at < before, FollowUp.status.in_(OPEN_STATUSES),
    ).order_by(FollowUp.due_at, FollowUp.id)
    return list(session.scalars(_with_relations(query)))


def relative_follow_ups(session: Session, relative: Relative) -> list[FollowUp]:
    query = select(FollowUp).where(FollowUp.relative_id == relative.id).order_by(
        FollowUp.due_at.is_(None), FollowUp.due_at, FollowUp.id
    )
    return list(session.scalars(_with_relations(query)))


def follow_up_json(follow_up: FollowUp, *, show_relative: bool = True, include_note: bool = False) -> dict:
    relative = follow_up.relative
    incident = relative.incident
    body = {
        "id": follow_up.id,
        "incident_id": follow_up.incident_id,
        "incident_reference": incident.reference,
        "relative_id": follow_up.relative_id,
        "relative_label": relative.label if show_relative else None,
        "label": follow_up.label,
        "planned_due_at": _iso(follow_up.planned_due_at),
        "due_at": _iso(follow_up.due_at),
        "shifted": is_shifted(follow_up),
        "acute": follow_up.acute,
        "channel": follow_up.channel,
        "owner_user_id": follow_up.owner_user_id,
        "status": follow_up.status.value,
        "open": is_open(follow_up),
        "cancel_reason": follow_up.cancel_reason,
        "reminder_sent_at": _iso(follow_up.reminder_sent_at),
        "escalated_at": _iso(follow_up.escalated_at),
        "completed_at": _iso(follow_up.completed_at),
        "version": follow_up.version,
    }
    if include_note:
        body["outcome_note"] = follow_up.outcome_note
    return body
