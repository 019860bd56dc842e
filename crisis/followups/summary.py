"""The morning summary: one SMS a day to each coordinator, counts only.

Open tasks, overdue tasks and follow-ups due today across the incidents the
coordinator leads: numbers and a link, never a name or a reference
(docs/architecture.md "Sensitive data stays in the system"). The outbox row's
idempotency key holds the coordinator and the date, so a second scheduler,
or a sweep repeated after a crash, finds the key taken and sends nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from crisis.auth.models import Availability, Role, User, UserRole
from crisis.core.db import utcnow
from crisis.core.holidays import STOCKHOLM
from crisis.followups.models import FollowUp
from crisis.followups.notify import playbook_text, public_url_for, queue_staff_sms, sms_language
from crisis.followups.services import OPEN_STATUSES
from crisis.incidents.models import Incident, IncidentStatus
from crisis.messaging.models import Message
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.services import record_event

log = logging.getLogger(__name__)

PURPOSE = "morning_summary"
# Sent from 07:00; a scheduler that was down all morning sends none that day
# rather than a "good morning" in the afternoon.
SUMMARY_FROM = time(7, 0)
SUMMARY_UNTIL = time(11, 0)
SUMMARY_VALIDITY = timedelta(hours=3)
OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)


@dataclass(frozen=True)
class Counts:
    open_tasks: int
    overdue_tasks: int
    follow_ups_today: int

    @property
    def anything(self) -> bool:
        return bool(self.open_tasks or self.overdue_tasks or self.follow_ups_today)


@dataclass
class SummaryReport:
    sent: int = 0
    nothing_to_say: int = 0
    not_sent: int = 0
    already_sent: int = 0
    user_ids: list[int] = field(default_factory=list)


def summary_key(user_id: int, day: date) -> str:
    return f"morning-summary:{user_id}:{day.isoformat()}"


def in_summary_window(now: datetime) -> bool:
    return SUMMARY_FROM <= now.astimezone(STOCKHOLM).time() < SUMMARY_UNTIL


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=STOCKHOLM).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=STOCKHOLM).astimezone(UTC)
    return start, end


def coordinated_incidents(user_id: int):
    return select(Incident.id).where(Incident.coordinator_id == user_id,
                                     Incident.status != IncidentStatus.CLOSED)


def coordinator_counts(session: Session, user: User, now: datetime) -> Counts:
    incidents = coordinated_incidents(user.id)
    open_tasks = select(func.count(Task.id)).where(
        Task.incident_id.in_(incidents), Task.status.in_(OPEN_TASK_STATUSES))
    overdue = open_tasks.where(Task.due_at < now)
    start, end = day_bounds(now.astimezone(STOCKHOLM).date())
    follow_ups_today = select(func.count(FollowUp.id)).where(
        FollowUp.incident_id.in_(incidents), FollowUp.status.in_(OPEN_STATUSES),
        FollowUp.due_at >= start, FollowUp.due_at < end)
    return Counts(session.scalar(open_tasks) or 0, session.scalar(overdue) or 0,
                  session.scalar(follow_ups_today) or 0)


def summary_recipients(session: Session, day: date) -> list[User]:
    """Active coordinators with a number, not off duty, who have not had today's summary."""
    coordinators = session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.COORDINATOR, User.active.is_(True), User.phone.is_not(None),
               User.availability != Availability.OFF_DUTY)
        .order_by(User.id)
    ).all()
    keys = {summary_key(u.id, day): u for u in coordinators}
    if not keys:
        return []
    sent = set(session.scalars(select(Message.idempotency_key).where(Message.idempotency_key.in_(keys))))
    return [user for key, user in keys.items() if key not in sent]


def send_morning_summaries(session: Session, *, now: datetime | None = None) -> SummaryReport:
    """Send today's summaries not yet sent; each in its own transaction, committed here."""
    now = now or utcnow()
    report = SummaryReport()
    if not in_summary_window(now):
        return report
    day = now.astimezone(STOCKHOLM).date()
    recipients = summary_recipients(session, day)
    session.commit()
    for user in recipients:
        try:
            outcome = _send_summary(session, user, day, now)
            session.commit()
        except IntegrityError:
            # Another scheduler sent it between our check and our insert.
            session.rollback()
            report.already_sent += 1
            continue
        except OperationalError:
            # SQLite: another process wrote since this transaction read; next sweep.
            session.rollback()
            log.warning("morning summary for coordinator %s deferred: database busy", user.id)
            continue
        if outcome == "sent":
            report.sent += 1
            report.user_ids.append(user.id)
        elif outcome == "nothing":
            report.nothing_to_say += 1
        else:
            report.not_sent += 1
    return report


def _send_summary(session: Session, user: User, day: date, now: datetime) -> str:
    counts = coordinator_counts(session, user, now)
    if not counts.anything:
        return "nothing"
    # The text of the playbook of the coordinator's latest response.
    incident = session.scalar(
        select(Incident).where(Incident.id.in_(coordinated_incidents(user.id)))
        .order_by(Incident.activated_at.desc(), Incident.id.desc()).limit(1)
    )
    content = incident.playbook_snapshot.content if incident is not None else None
    body = playbook_text(
        content, "morning_summary", sms_language(user), count_open=counts.open_tasks,
        count_overdue=counts.overdue_tasks, count_followups=counts.follow_ups_today,
        link=public_url_for("home.index", "/"),
    )
    message, refusal = queue_staff_sms(
        session, user, purpose=PURPOSE, body=body, incident_id=None,
        idempotency_key=summary_key(user.id, day), validity=SUMMARY_VALIDITY, now=now, savepoint=False,
    )
    data = {"user_id": user.id, "date": day.isoformat(), "count_open": counts.open_tasks,
            "count_overdue": counts.overdue_tasks, "count_followups": counts.follow_ups_today}
    if message is None:
        # Opted out or deactivated since the recipients were read: nothing
        # happened, so nothing goes in the timeline (it would repeat every sweep).
        log.info("no morning summary for coordinator %s: %s", user.id, refusal)
        session.rollback()
        return "not_sent"
    record_event(session, kind="staff", type="user.morning_summary_sent", actor="scheduler", subject=user,
                 summary=f"Morning summary sent to coordinator {user.id}",
                 data={**data, "message_id": message.id})
    return "sent"
