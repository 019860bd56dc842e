"""Scheduler job: overdue tasks escalate to the people the incident's playbook names, once per task.

`escalation.task_overdue_notify` in the pinned playbook says who (owner,
coordinator, manager); each gets the playbook's `task_overdue` SMS (reference,
category, deadline, link: no names) and the escalation is one timeline
event. `Task.overdue_notified_at` is set in the same transaction, with the
guarantees described in crisis.followups.escalation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, selectinload

from crisis.core.db import db, utcnow
from crisis.followups.batches import batch_ids
from crisis.followups.escalation import (
    Overdue,
    escalate_marked,
    in_working_hours,
    notify_list,
    notify_overdue,
    overdue_recipients,
    sweep_in_batches,
)
from crisis.followups.notify import StaffTexts, public_url_for
from crisis.incidents.models import Incident, IncidentStatus
from crisis.organisation.models import Team, TeamMember
from crisis.playbooks.durations import DurationError, parse_duration
from crisis.playbooks.render import label as playbook_label
from crisis.scheduler import interval_job
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.services import record_event

log = logging.getLogger(__name__)

tasks = Task.__table__

OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)
# Deadlines this close to their anchor are the acute phase ("first contact
# within 24 h" in all three shipped playbooks): their escalation goes out at
# any hour. Later ones wait for the working day.
URGENT_WITHIN = timedelta(hours=24)
BATCH_SIZE = 100


@dataclass
class TaskEscalationReport:
    escalated: int = 0
    failed: int = 0
    batches: int = 0
    ids: list[int] = field(default_factory=list)


def _overdue(now: datetime):
    return and_(
        tasks.c.status.in_([s.value for s in OPEN_TASK_STATUSES]),
        tasks.c.due_at.is_not(None),
        tasks.c.due_at < now,
        tasks.c.overdue_notified_at.is_(None),
    )


def urgent_offsets(session: Session, now: datetime) -> list[str]:
    """The deadline offsets among overdue tasks that count as acute (at most URGENT_WITHIN)."""
    offsets = session.scalars(
        select(tasks.c.due_offset).where(_overdue(now), tasks.c.due_offset.is_not(None)).distinct()
    ).all()
    urgent = []
    for offset in offsets:
        try:
            if parse_duration(offset).nominal_length <= URGENT_WITHIN:
                urgent.append(offset)
        except DurationError:
            continue
    return urgent


def category_kind(task: Task) -> dict[str, str]:
    """The `{kind}` of the overdue text: the task's category, in Swedish and English."""
    key = f"category.{task.category.value}"
    try:
        return {"sv": playbook_label(key, "sv"), "en": playbook_label(key, "en")}
    except KeyError:
        return {"sv": task.category.value, "en": task.category.value}


def escalate_overdue_tasks(session: Session, *, now: datetime, limit: int = BATCH_SIZE,
                           only_offsets: list[str] | None = None) -> TaskEscalationReport:
    """One batch in the caller's transaction; `only_offsets` limits it to acute deadlines (at night)."""
    report = TaskEscalationReport()
    condition = _overdue(now)
    if only_offsets is not None:
        condition = and_(condition, tasks.c.due_offset.in_(only_offsets))
    incidents = Incident.__table__
    due = (
        select(tasks.c.id)
        .join(incidents, incidents.c.id == tasks.c.incident_id)
        .where(condition, incidents.c.status != IncidentStatus.CLOSED.value)
        .order_by(tasks.c.due_at, tasks.c.id)
        .limit(limit)
    )
    # Marked first, in the same transaction as the texts: a second scheduler
    # finds `overdue_notified_at` set (or the row locked and skipped). The
    # version is left alone: this is bookkeeping, not an edit to refuse.
    ids = session.execute(
        update(tasks).where(tasks.c.id.in_(batch_ids(session, due, tasks)), condition)
        .values(overdue_notified_at=now, updated_at=tasks.c.updated_at)
        .returning(tasks.c.id)
    ).scalars().all()
    if not ids:
        return report
    rows = session.scalars(
        select(Task).where(Task.id.in_(ids)).order_by(Task.due_at, Task.id)
        .options(
            selectinload(Task.owner),
            selectinload(Task.owner_team).selectinload(Team.members).selectinload(TeamMember.user),
            selectinload(Task.incident).selectinload(Incident.coordinator),
            selectinload(Task.incident).selectinload(Incident.playbook_snapshot),
        )
        .execution_options(populate_existing=True)
    ).all()
    return escalate_marked(session, rows, report, now=now, overdue=_task_overdue, escalate_one=_escalate_task,
                           table=tasks, mark="overdue_notified_at", noun="task", log=log)


def _task_overdue(session: Session, task: Task, managers: dict) -> Overdue:
    incident = task.incident
    recipients = overdue_recipients(session, incident, notify_list(incident.playbook_snapshot.content),
                                    owner=task.owner, owner_team=task.owner_team, managers=managers)

    def event(notified) -> dict:
        told = ", ".join(dict.fromkeys(notified.roles)) or "nobody by SMS"
        return dict(
            kind="task", type="task.overdue_escalated", actor="scheduler", incident_id=incident.id,
            subject=task.id, summary=f"Task {task.id} ({task.category.value}) is overdue; told {told}",
            data={"task_id": task.id, "step_id": task.step_id, "due_at": task.due_at.isoformat(),
                  "notified_user_ids": notified.user_ids, "notified_roles": notified.roles,
                  "not_sent": notified.not_sent},
        )

    return Overdue(
        row=task, incident=incident, recipients=recipients, kind=category_kind(task), due_at=task.due_at,
        link=public_url_for("tasks.show", f"/incidents/{incident.id}", task_id=task.id),
        key=f"task-overdue:{task.id}:{int(task.due_at.timestamp())}", event=event,
    )


def _escalate_task(session: Session, task: Task, now: datetime, texts: StaffTexts) -> None:
    incident = task.incident
    recipients = overdue_recipients(session, incident, notify_list(incident.playbook_snapshot.content),
                                    owner=task.owner, owner_team=task.owner_team)
    notified = notify_overdue(
        texts, incident=incident, recipients=recipients, kind=category_kind(task), due_at=task.due_at,
        link=public_url_for("tasks.show", f"/incidents/{incident.id}", task_id=task.id),
        key=f"task-overdue:{task.id}:{int(task.due_at.timestamp())}", now=now,
    )
    told = ", ".join(dict.fromkeys(notified.roles)) or "nobody by SMS"
    record_event(
        session, kind="task", type="task.overdue_escalated", actor="scheduler", incident_id=incident.id,
        subject=task, summary=f"Task {task.id} ({task.category.value}) is overdue; told {told}",
        data={"task_id": task.id, "step_id": task.step_id, "due_at": task.due_at.isoformat(),
              "notified_user_ids": notified.user_ids, "notified_roles": notified.roles,
              "not_sent": notified.not_sent},
    )


def run_task_escalation(session: Session, *, now: datetime | None = None, limit: int = BATCH_SIZE,
                        max_batches: int | None = None) -> TaskEscalationReport:
    now = now or utcnow()
    only_offsets = None
    if not in_working_hours(now):
        only_offsets = urgent_offsets(session, now)
        session.commit()  # end the read before the writes (SQLite upgrades no stale snapshot)
        if not only_offsets:
            return TaskEscalationReport()
    return sweep_in_batches(session, TaskEscalationReport(),
                            lambda: escalate_overdue_tasks(session, now=now, limit=limit, only_offsets=only_offsets),
                            limit=limit, max_batches=max_batches)


@interval_job("tasks.overdue_escalation", 120)
def overdue_tasks_job() -> None:
    report = run_task_escalation(db.session)
    if report.escalated or report.failed:
        log.info("overdue tasks: %d escalated, %d failed", report.escalated, report.failed)
