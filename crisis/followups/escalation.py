"""Overdue escalation: tell the people the playbook names when a follow-up
or a task is late, once.

Who is told comes from the incident's pinned playbook,
`escalation.task_overdue_notify` (owner, coordinator, manager); the text is
its `messages.task_overdue` template. Each overdue row is marked
(`FollowUp.escalated_at`, `Task.overdue_notified_at`) by a conditional UPDATE
in the same transaction that queues the texts and appends the timeline
event: on PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, and
the `... IS NULL` condition on the row itself makes a second scheduler (or
SQLite's serialised writers) find nothing left to do. A process killed
mid-sweep rolls back, and the row is escalated by the next sweep.

Escalations for the acute phase go out at any hour (SIG coordinators are on
call around the clock in the first days); the others wait for the working
day, like reminders, so that a deadline three months after a death that
happened at 02:00 does not wake anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from crisis.auth.models import Availability, Role, User, UserRole
from crisis.core.db import utcnow
from crisis.core.holidays import STOCKHOLM
from crisis.followups.batches import batch_ids, marked_follow_ups
from crisis.followups.models import FollowUp
from crisis.followups.notify import (
    StaffTexts,
    format_due,
    playbook_text,
    public_url_for,
    sms_language,
)
from crisis.followups.services import OPEN_STATUSES
from crisis.incidents.models import Incident, IncidentStatus, Relative
from crisis.organisation.models import Team
from crisis.timeline.services import record_event, record_events

log = logging.getLogger(__name__)

follow_ups = FollowUp.__table__

PURPOSE = "overdue_escalation"
OVERDUE_RECIPIENTS = ("owner", "coordinator", "manager")
# A snapshot pinned before the playbook named anyone still escalates to these.
DEFAULT_NOTIFY = ("owner", "coordinator")
DAY_STARTS = time(7, 0)
DAY_ENDS = time(21, 0)
# A follow-up is escalated when it is still open this long after its due
# moment. The owner was reminded in the morning of the due day; a whole day
# later the coordinator should know. Acute ones (the first week) sooner.
FOLLOWUP_OVERDUE_AFTER = timedelta(days=1)
ACUTE_FOLLOWUP_OVERDUE_AFTER = timedelta(hours=2)
ESCALATION_VALIDITY = timedelta(hours=8)
BATCH_SIZE = 100
FOLLOWUP_KIND = {"sv": "uppföljning", "en": "follow-up"}


def in_working_hours(now: datetime) -> bool:
    return DAY_STARTS <= now.astimezone(STOCKHOLM).time() < DAY_ENDS


def notify_list(content: Mapping | None) -> list[str]:
    """The playbook's `escalation.task_overdue_notify`, known roles only, in order."""
    wanted = ((content or {}).get("escalation") or {}).get("task_overdue_notify") or DEFAULT_NOTIFY
    return [r for r in dict.fromkeys(wanted) if r in OVERDUE_RECIPIENTS]


def _available(users: Iterable[User]) -> list[User]:
    return [u for u in users if u.active and u.availability != Availability.OFF_DUTY]


def team_on_call(team: Team | None) -> User | None:
    """The first member in on-call order who is not off duty (else the first active one)."""
    if team is None:
        return None
    members = [m.user for m in team.members]
    on_call = _available(members)
    if on_call:
        return on_call[0]
    active = [u for u in members if u.active]
    return active[0] if active else None


def district_managers(session: Session, district_id: int) -> list[User]:
    return list(session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.MANAGER, User.district_id == district_id, User.active.is_(True))
        .order_by(User.id)
    ))


def overdue_recipients(
    session: Session, incident: Incident, notify: Iterable[str], *,
    owner: User | None = None, owner_team: Team | None = None, managers: dict | None = None,
) -> list[tuple[str, User]]:
    """(role, user) for each role the playbook names, each person once.

    `managers` caches the managers of each district across a batch.
    """
    chosen: list[tuple[str, User]] = []
    seen: set[int] = set()

    def add(role: str, user: User | None) -> None:
        if user is not None and user.active and user.id not in seen:
            seen.add(user.id)
            chosen.append((role, user))

    for role in notify:
        if role == "owner":
            add(role, owner if owner is not None else team_on_call(owner_team))
        elif role == "coordinator":
            add(role, incident.coordinator)
        elif role == "manager":
            if managers is None:
                found = district_managers(session, incident.district_id)
            else:
                if incident.district_id not in managers:
                    managers[incident.district_id] = district_managers(session, incident.district_id)
                found = managers[incident.district_id]
            for manager in found:
                add(role, manager)
    return chosen


@dataclass
class Notified:
    user_ids: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    not_sent: list[dict] = field(default_factory=list)


def notify_overdue(
    texts: StaffTexts, *, incident: Incident, recipients: list[tuple[str, User]], kind: Mapping[str, str],
    due_at: datetime, link: str, key: str, now: datetime,
) -> Notified:
    """Queue the playbook's overdue text to each recipient (once per key and person)."""
    notified = Notified()
    for role, user in recipients:
        language = sms_language(user)
        body = playbook_text(
            incident.playbook_snapshot.content, "task_overdue", language, ref=incident.reference,
            kind=kind.get(language) or kind["sv"], due=format_due(due_at, language), link=link,
        )
        message, refusal = texts.queue(
            user, purpose=PURPOSE, body=body, incident_id=incident.id,
            idempotency_key=f"{key}:{user.id}", validity=ESCALATION_VALIDITY, now=now,
        )
        if message is None and refusal != "already_queued":
            notified.not_sent.append({"user_id": user.id, "role": role, "reason": refusal})
            continue
        notified.user_ids.append(user.id)
        notified.roles.append(role)
    return notified


@dataclass
class Overdue:
    """What escalating one overdue row means: who is told what, and its event."""

    row: object
    incident: Incident
    recipients: list[tuple[str, User]]
    kind: Mapping[str, str]
    due_at: datetime
    link: str
    key: str
    event: Callable[[Notified], dict]


def overdue_text(item: Overdue, user: User) -> str:
    language = sms_language(user)
    return playbook_text(
        item.incident.playbook_snapshot.content, "task_overdue", language, ref=item.incident.reference,
        kind=item.kind.get(language) or item.kind["sv"], due=format_due(item.due_at, language), link=item.link,
    )


def escalate_in_bulk(session: Session, items: list[Overdue], *, texts: StaffTexts, now: datetime) -> None:
    """Queue every text of a batch of escalations and record their events: constant in statements.

    Raises (IntegrityError for a text already queued) with nothing written:
    the caller runs it in a savepoint and falls back to one row at a time.
    """
    queue = [
        (user, {"purpose": PURPOSE, "body": overdue_text(item, user), "incident_id": item.incident.id,
                "idempotency_key": f"{item.key}:{user.id}", "validity": ESCALATION_VALIDITY, "now": now})
        for item in items for _, user in item.recipients
    ]
    results = iter(texts.queue_many(queue))
    events = []
    for item in items:
        notified = Notified()
        for role, user in item.recipients:
            message_id, refusal = next(results)
            if message_id is None and refusal != "already_queued":
                notified.not_sent.append({"user_id": user.id, "role": role, "reason": refusal})
                continue
            notified.user_ids.append(user.id)
            notified.roles.append(role)
        events.append(item.event(notified))
    record_events(session, events)


# --- Follow-ups ---------------------------------------------------------------------


@dataclass
class EscalationReport:
    escalated: int = 0
    failed: int = 0
    batches: int = 0
    ids: list[int] = field(default_factory=list)


def _overdue_follow_ups(now: datetime):
    late = or_(
        and_(follow_ups.c.acute.is_(True), follow_ups.c.due_at < now - ACUTE_FOLLOWUP_OVERDUE_AFTER),
        and_(follow_ups.c.acute.is_(False), follow_ups.c.due_at < now - FOLLOWUP_OVERDUE_AFTER),
    )
    condition = and_(
        follow_ups.c.status.in_([s.value for s in OPEN_STATUSES]),
        follow_ups.c.escalated_at.is_(None),
        follow_ups.c.due_at.is_not(None),
        late,
    )
    if not in_working_hours(now):
        condition = and_(condition, follow_ups.c.acute.is_(True))
    return condition


def escalate_overdue_follow_ups(session: Session, *, now: datetime, limit: int = BATCH_SIZE) -> EscalationReport:
    """One batch: mark, notify and record overdue follow-ups, in the caller's transaction."""
    report = EscalationReport()
    condition = _overdue_follow_ups(now)
    incidents = Incident.__table__
    relatives = Relative.__table__
    due = (
        select(follow_ups.c.id)
        .join(incidents, incidents.c.id == follow_ups.c.incident_id)
        .join(relatives, relatives.c.id == follow_ups.c.relative_id)
        .where(condition, incidents.c.status != IncidentStatus.CLOSED.value, relatives.c.anonymised_at.is_(None))
        .order_by(follow_ups.c.due_at, follow_ups.c.id)
        .limit(limit)
    )
    # The mark is the first statement and a write (see notify.StaffTexts.queue).
    ids = session.execute(
        update(follow_ups).where(follow_ups.c.id.in_(batch_ids(session, due, follow_ups)), condition)
        .values(escalated_at=now, updated_at=follow_ups.c.updated_at)
        .returning(follow_ups.c.id)
    ).scalars().all()
    if not ids:
        return report
    rows = marked_follow_ups(session, ids)
    return escalate_marked(session, rows, report, now=now, overdue=_follow_up_overdue,
                           escalate_one=_escalate_follow_up, table=follow_ups, mark="escalated_at",
                           noun="follow-up", log=log)


def escalate_marked(session: Session, rows: list, report, *, now: datetime, overdue, escalate_one, table,
                    mark: str, noun: str, log: logging.Logger):
    """Escalates rows a sweep has marked (`mark` set) in the caller's transaction, into `report`
    (escalated, ids, failed). Fast path: the whole batch in one savepoint and a fixed number of statements.
    When one of them fails, row by row: a row that fails has its mark cleared (its version left alone),
    so the next sweep retries it. `overdue(session, row, managers)` builds a row's Overdue for the batch;
    `escalate_one(session, row, now, texts)` escalates one row alone."""
    texts = StaffTexts(session)
    managers: dict = {}
    try:
        # Fast path: the whole batch in one savepoint, a fixed number of statements.
        with session.begin_nested():
            escalate_in_bulk(session, [overdue(session, row, managers) for row in rows], texts=texts, now=now)
        report.escalated = len(rows)
        report.ids = [row.id for row in rows]
        return report
    except Exception:
        log.warning("an escalation in a batch of %d failed; retrying the batch row by row", len(rows))
    for row in rows:
        try:
            with session.begin_nested():
                escalate_one(session, row, now, texts)
        except Exception:
            log.exception("escalation of %s %s failed; it is retried next sweep", noun, row.id)
            session.execute(update(table).where(table.c.id == row.id)
                            .values({mark: None, "updated_at": table.c.updated_at}))
            report.failed += 1
            continue
        report.escalated += 1
        report.ids.append(row.id)
    return report


def _follow_up_overdue(session: Session, follow_up: FollowUp, managers: dict) -> Overdue:
    incident = follow_up.relative.incident
    recipients = overdue_recipients(session, incident, notify_list(incident.playbook_snapshot.content),
                                    owner=follow_up.owner, managers=managers)

    def event(notified: Notified) -> dict:
        told = ", ".join(dict.fromkeys(notified.roles)) or "nobody by SMS"
        return dict(
            kind="followup", type="followup.overdue_escalated", actor="scheduler",
            incident_id=incident.id, subject=follow_up.id,
            summary=f"Follow-up {follow_up.label} with {follow_up.relative.label} is overdue; told {told}",
            data={"follow_up_id": follow_up.id, "relative_id": follow_up.relative_id,
                  "due_at": follow_up.due_at.isoformat(), "acute": follow_up.acute,
                  "notified_user_ids": notified.user_ids, "notified_roles": notified.roles,
                  "not_sent": notified.not_sent},
        )

    return Overdue(
        row=follow_up, incident=incident, recipients=recipients, kind=FOLLOWUP_KIND, due_at=follow_up.due_at,
        link=public_url_for("followups.show", f"/followups/{follow_up.id}", follow_up_id=follow_up.id),
        key=f"followup-overdue:{follow_up.id}:{int(follow_up.due_at.timestamp())}", event=event,
    )


def _escalate_follow_up(session: Session, follow_up: FollowUp, now: datetime, texts: StaffTexts) -> None:
    incident = follow_up.relative.incident
    recipients = overdue_recipients(session, incident, notify_list(incident.playbook_snapshot.content),
                                    owner=follow_up.owner)
    notified = notify_overdue(
        texts, incident=incident, recipients=recipients, kind=FOLLOWUP_KIND, due_at=follow_up.due_at,
        link=public_url_for("followups.show", f"/followups/{follow_up.id}", follow_up_id=follow_up.id),
        key=f"followup-overdue:{follow_up.id}:{int(follow_up.due_at.timestamp())}", now=now,
    )
    told = ", ".join(dict.fromkeys(notified.roles)) or "nobody by SMS"
    record_event(
        session, kind="followup", type="followup.overdue_escalated", actor="scheduler",
        incident_id=incident.id, subject=follow_up,
        summary=f"Follow-up {follow_up.label} with {follow_up.relative.label} is overdue; told {told}",
        data={"follow_up_id": follow_up.id, "relative_id": follow_up.relative_id,
              "due_at": follow_up.due_at.isoformat(), "acute": follow_up.acute,
              "notified_user_ids": notified.user_ids, "notified_roles": notified.roles,
              "not_sent": notified.not_sent},
    )


def run_followup_escalation(session: Session, *, now: datetime | None = None, limit: int = BATCH_SIZE,
                            max_batches: int | None = None) -> EscalationReport:
    now = now or utcnow()
    return sweep_in_batches(session, EscalationReport(),
                            lambda: escalate_overdue_follow_ups(session, now=now, limit=limit),
                            limit=limit, max_batches=max_batches)


def sweep_in_batches(session: Session, total, one_batch, *, limit: int, max_batches: int | None):
    """Runs `one_batch()` and commits it, batch after batch, adding each into `total` (batches, escalated,
    failed, ids), until a batch is short or has a failure, or `max_batches` have run."""
    while max_batches is None or total.batches < max_batches:
        try:
            batch = one_batch()
            session.commit()
        except Exception:
            session.rollback()
            raise
        total.batches += 1
        total.escalated += batch.escalated
        total.failed += batch.failed
        total.ids.extend(batch.ids)
        # A short batch means nothing more is due; a failed row waits for the
        # next sweep rather than being retried in a loop here.
        if batch.failed or batch.escalated < limit:
            break
    return total
