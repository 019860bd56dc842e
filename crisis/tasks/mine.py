"""The read side of "Mina uppgifter" (issue 18): what needs the person on the phone, in order.

First the alerts waiting for their answer, then their tasks by when they are
due (overdue, today, this week, later, no deadline), each group by incident.
Days and weeks are Stockholm's, not UTC's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from crisis.auth.models import User
from crisis.dispatch.models import Dispatch, DispatchAttempt, DispatchStatus
from crisis.tasks.models import Task

STOCKHOLM = ZoneInfo("Europe/Stockholm")

GROUPS = (
    ("overdue", _l("Overdue")),
    ("today", _l("Today")),
    ("week", _l("This week")),
    ("later", _l("Later")),
    ("undated", _l("No deadline yet")),
)


@dataclass
class IncidentTasks:
    incident: object
    tasks: list[Task] = field(default_factory=list)


@dataclass
class TaskGroup:
    key: str
    title: object
    incidents: list[IncidentTasks] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(i.tasks) for i in self.incidents)


def group_of(task: Task, now: datetime) -> str:
    if task.due_at is None:
        return "undated"
    if task.due_at < now:
        return "overdue"
    local_now = now.astimezone(STOCKHOLM)
    tomorrow = datetime.combine(local_now.date() + timedelta(days=1), time(), STOCKHOLM)
    if task.due_at < tomorrow:
        return "today"
    next_monday = datetime.combine(local_now.date() + timedelta(days=7 - local_now.weekday()), time(), STOCKHOLM)
    if task.due_at < next_monday:
        return "week"
    return "later"


def group_tasks(tasks: list[Task], now: datetime) -> list[TaskGroup]:
    """Non-empty groups in order; inside each, incidents in the order of their first task."""
    groups = {key: TaskGroup(key, title) for key, title in GROUPS}
    buckets: dict[tuple[str, int], IncidentTasks] = {}
    for task in tasks:  # already soonest deadline first
        key = group_of(task, now)
        bucket = buckets.get((key, task.incident_id))
        if bucket is None:
            bucket = buckets[key, task.incident_id] = IncidentTasks(task.incident)
            groups[key].incidents.append(bucket)
        bucket.tasks.append(task)
    return [g for g in groups.values() if g.incidents]


def pending_alerts(session: Session, user: User) -> list[Dispatch]:
    """Open dispatches that alerted `user` (by SMS or by name), oldest first: answer these first."""
    alerted = select(DispatchAttempt.dispatch_id).where(DispatchAttempt.user_id == user.id)
    return list(session.scalars(
        select(Dispatch)
        .where(Dispatch.status.in_([DispatchStatus.PENDING, DispatchStatus.EXHAUSTED]),
               or_(Dispatch.id.in_(alerted), Dispatch.user_id == user.id))
        .options(selectinload(Dispatch.incident), selectinload(Dispatch.task).selectinload(Task.relative))
        .order_by(Dispatch.created_at, Dispatch.id)
        .limit(50)
    ))
