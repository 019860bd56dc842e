"""The write side of tasks: status, checklist, note, owner, deadline, ad hoc tasks.

Concurrent edits from two phones must not silently overwrite each other:
every update names the version it was based on, and a stale one is refused
with the current version (the API answers 409).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.core.db import utcnow
from crisis.core.labels import lazy_label
from crisis.incidents.access import assign
from crisis.incidents.models import Incident
from crisis.incidents.services import IncidentError, StaleVersion, record_first_contact
from crisis.tasks.models import Task, TaskCategory, TaskStatus
from crisis.timeline.services import record_event

# Which status may follow which: a finished task is reopened explicitly, a
# cancelled one only by the playbook engine.
TRANSITIONS: dict[TaskStatus, set[TaskStatus]] = {
    TaskStatus.OPEN: {TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.BLOCKED, TaskStatus.NOT_APPLICABLE},
    TaskStatus.IN_PROGRESS: {TaskStatus.OPEN, TaskStatus.DONE, TaskStatus.BLOCKED, TaskStatus.NOT_APPLICABLE},
    TaskStatus.BLOCKED: {TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.NOT_APPLICABLE},
    TaskStatus.DONE: {TaskStatus.OPEN, TaskStatus.IN_PROGRESS},
    TaskStatus.NOT_APPLICABLE: {TaskStatus.OPEN},
    TaskStatus.CANCELLED: set(),
}


class TaskError(IncidentError):
    pass


BLOCKED_REASON_MAX = 200


def update_task(
    session: Session,
    task: Task,
    *,
    actor: User,
    expected_version: int,
    status: str | None = None,
    note: str | None = None,
    checklist_done: list[bool] | None = None,
    owner_user_id: int | None | type(...) = ...,
    due_at: datetime | None | type(...) = ...,
    blocked_reason: str | None = None,
) -> Task:
    if expected_version != task.version:
        raise StaleVersion(task.version)
    data: dict = {}
    blocked_reason = " ".join((blocked_reason or "").split())
    if status is not None:
        try:
            new_status = TaskStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in TaskStatus if s != TaskStatus.CANCELLED)
            raise TaskError(f"status must be one of: {allowed}.", "status") from None
        if new_status != task.status:
            if new_status not in TRANSITIONS[task.status]:
                raise TaskError(_l("A task that is %(before)s cannot become %(after)s.",
                                   before=lazy_label("task_status", task.status),
                                   after=lazy_label("task_status", new_status)), "status")
            if new_status == TaskStatus.BLOCKED:
                # The coordinator sees the reason on the dashboard card (issue 18).
                if not blocked_reason:
                    raise TaskError(_l("Say briefly what blocks the task."), "blocked_reason")
                if len(blocked_reason) > BLOCKED_REASON_MAX:
                    raise TaskError(_l("The reason is longer than %(count)s characters.",
                                       count=BLOCKED_REASON_MAX), "blocked_reason")
                task.blocked_reason = blocked_reason
            else:
                task.blocked_reason = None
            data["status"] = {"before": task.status.value, "after": new_status.value}
            task.status = new_status
            task.completed_at = utcnow() if new_status == TaskStatus.DONE else None
    if checklist_done is not None:
        if len(checklist_done) != len(task.checklist):
            raise TaskError(f"checklist has {len(task.checklist)} items; send that many true/false values.",
                            "checklist")
        before = [bool(item.get("done")) for item in task.checklist]
        after = [bool(v) for v in checklist_done]
        if before != after:
            task.checklist = [{**item, "done": done} for item, done in zip(task.checklist, after, strict=True)]
            data["checklist"] = {"before": before, "after": after}
    if note is not None:
        note = note.strip()
        if len(note) > 5000:
            raise TaskError(_l("The note is longer than %(num)s characters.", num=5000), "note")
        if note != (task.note or ""):
            task.note = note or None
            data["note"] = "changed"  # the note itself is encrypted and stays out of the timeline
    if owner_user_id is not ...:
        if owner_user_id is not None:
            owner = session.get(User, owner_user_id)
            if owner is None or not owner.active:
                raise TaskError(_l("No active staff member with id %(id)s.", id=owner_user_id), "owner_user_id")
            assign(session, owner_user_id, task.incident_id)
        if owner_user_id != task.owner_user_id:
            data["owner_user_id"] = {"before": task.owner_user_id, "after": owner_user_id}
            task.owner_user_id = owner_user_id
    if due_at is not ...:
        if due_at is not None and due_at.tzinfo is None:
            raise TaskError("due_at needs a time zone.", "due_at")
        if due_at != task.due_at:
            data["due_at"] = {"before": task.due_at.isoformat() if task.due_at else None,
                              "after": due_at.isoformat() if due_at else None}
            task.due_at = due_at
    if not data:
        return task
    session.flush()
    kind = "task.status_changed" if set(data) == {"status"} else "task.updated"
    summary = (f"Task {task.id} {data['status']['after']}" if "status" in data
               else f"Task {task.id} updated ({', '.join(sorted(data))})")
    record_event(session, kind="task", type=kind, actor=actor, incident_id=task.incident_id,
                 subject=task, summary=summary, data={"task_id": task.id, "step_id": task.step_id, **data})
    # Finishing the first outreach task with a relative is the first contact
    # (the anchor of follow-ups "after: first_contact").
    if (data.get("status", {}).get("after") == TaskStatus.DONE.value and task.relative is not None
            and task.category == TaskCategory.OUTREACH):
        record_first_contact(session, task.relative, actor=actor)
    return task


def create_task(
    session: Session,
    incident: Incident,
    *,
    actor: User,
    title: str,
    category: str = "coordination",
    due_at: datetime | None = None,
    owner_user_id: int | None = None,
    relative_id: int | None = None,
    description: str | None = None,
) -> Task:
    """An ad hoc task that no playbook step foresaw."""
    title = (title or "").strip()
    if not title:
        raise TaskError(_l("Give the task a title."), "title")
    if len(title) > 300:
        raise TaskError(_l("The title is longer than %(num)s characters.", num=300), "title")
    try:
        category_value = TaskCategory(category)
    except ValueError:
        raise TaskError(f"category must be one of: {', '.join(c.value for c in TaskCategory)}.",
                        "category") from None
    if due_at is not None and due_at.tzinfo is None:
        raise TaskError("due_at needs a time zone.", "due_at")
    if relative_id is not None and relative_id not in {r.id for r in incident.relatives}:
        raise TaskError(f"Relative {relative_id} does not belong to this incident.", "relative_id")
    if owner_user_id is not None:
        owner = session.get(User, owner_user_id)
        if owner is None or not owner.active:
            raise TaskError(_l("No active staff member with id %(id)s.", id=owner_user_id), "owner_user_id")
        assign(session, owner_user_id, incident.id)
    task = Task(incident_id=incident.id, relative_id=relative_id, title={"sv": title, "en": title},
                description={"sv": description, "en": description} if description else None,
                category=category_value, role="outreach", owner_user_id=owner_user_id, due_at=due_at)
    session.add(task)
    session.flush()
    record_event(session, kind="task", type="task.created", actor=actor, incident_id=incident.id,
                 subject=task, summary=f"Task {task.id} created ad hoc ({category_value.value})",
                 data={"task_id": task.id, "category": category_value.value})
    return task


def give_visit_to_acknowledger(session: Session, dispatch, user: User) -> bool:
    """After "I am taking this": the visit named in the dispatch becomes the acknowledger's (issue 18).

    The person who answered the alert is the one going, so the task follows them
    (and shows under their "Mina uppgifter"); the timeline records why it moved.
    """
    task = dispatch.task
    if dispatch.purpose != "visit" or task is None or task.status.is_closed or task.status == TaskStatus.CANCELLED:
        return False
    if task.owner_user_id == user.id:
        return False
    before = task.owner_user_id
    task.owner_user_id = user.id
    assign(session, user.id, task.incident_id)
    session.flush()
    record_event(session, kind="task", type="task.reassigned", actor=user, incident_id=task.incident_id,
                 subject=task, summary=f"Task {task.id} given to staff {user.id}, who acknowledged dispatch "
                                       f"{dispatch.id}",
                 data={"task_id": task.id, "step_id": task.step_id, "dispatch_id": dispatch.id,
                       "owner_user_id": {"before": before, "after": user.id}, "reason": "dispatch_acknowledged"})
    return True
