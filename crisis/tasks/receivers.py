"""Tasks' answer to the playbook engine's signal (crisis.core.signals), in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import load_only

from crisis.core.db import update_versioned, utcnow
from crisis.core.signals import plan_laid_out
from crisis.core.textsafety import neutralise_texts
from crisis.organisation.models import Team
from crisis.playbooks.engine import sig_team
from crisis.playbooks.plan import PlannedTask
from crisis.tasks.models import Task, TaskStatus

# Built once (a statement and its cache key cost more to build than to run). What reconciling reads
# of an incident's planned tasks: not their texts (encrypted, decrypted on load) nor their lists.
_PLANNED_TASKS = (
    select(Task).options(load_only(Task.id, Task.key, Task.status, Task.due_at, Task.version))
    .where(Task.incident_id == bindparam("incident_id"), Task.key.is_not(None))
)
_INSERT_TASKS = insert(Task.__table__)


@plan_laid_out.connect
def reconcile_tasks(_sender, *, session, incident, tasks, relatives, persons, result, new_incident=False,
                    **_kwargs) -> None:
    """Bring the incident's tasks in line with the plan; record what changed in `result`."""
    planned = tasks
    existing = {} if new_incident else {
        t.key: t for t in session.scalars(_PLANNED_TASKS, {"incident_id": incident.id})
    }
    team = None
    wanted = set()
    new_rows: list[dict] = []
    changes: list[tuple[Task, dict]] = []
    for item in planned:
        wanted.add(item.key)
        task = existing.get(item.key)
        if task is None:
            if team is None:
                team = sig_team(session, incident.district) or False
            relative = relatives.get(item.subject_ref) if item.scope == "relative" else None
            new_rows.append(_new_task_row(incident, item, relative, persons.get(item.subject_ref), team or None))
            result.created.append(item.key)
            continue
        values = {}
        status = task.status
        if status == TaskStatus.CANCELLED:
            values["status"] = status = TaskStatus.OPEN
            result.reopened.append(item.key)
        if not status.is_closed and task.due_at != item.due_at:
            values["due_at"] = item.due_at
            result.redated.append(item.key)
        if values:
            changes.append((task, values))
    for key, task in existing.items():
        if key not in wanted and task.status == TaskStatus.OPEN:
            changes.append((task, {"status": TaskStatus.CANCELLED}))
            result.cancelled.append(key)
    if new_rows:
        # The new tasks: one INSERT for all (an executemany), no object per row to flush; in plan order,
        # so their ids follow it. Nothing here needs their ids back.
        session.execute(_INSERT_TASKS, new_rows)
    # Re-dated, reopened and cancelled tasks: one UPDATE per kind of change, not one per task.
    update_versioned(session, changes)


def _new_task_row(incident, item: PlannedTask, relative, person, team: Team | None) -> dict:
    """The column values of a new task for a planned item (every key in every row: one executemany)."""
    owner_user_id = None
    owner_team_id = None
    if item.role == "coordinator":
        owner_user_id = incident.coordinator_id
    elif item.role == "outreach":
        owner_user_id = relative.contact_person_id if relative is not None else None
        owner_team_id = team.id if team is not None else None
    now = utcnow()
    return {
        "incident_id": incident.id,
        "relative_id": relative.id if relative is not None else None,
        "person_id": person.id if person is not None else None,
        "key": item.key,
        "phase_id": item.phase_id,
        "step_id": item.step_id,
        # What Task's attribute listeners do when the ORM sets them (crisis.core.textsafety).
        "title": neutralise_texts(dict(item.title)),
        "description": neutralise_texts(dict(item.description)) if item.description else None,
        "category": item.category,
        "agency": item.agency,
        "role": item.role,
        "owner_user_id": owner_user_id,
        "owner_team_id": owner_team_id,
        "due_at": item.due_at,
        "due_anchor": item.anchor,
        "due_offset": item.offset,
        "status": TaskStatus.OPEN,
        "checklist": [{"text": dict(text), "done": False} for text in item.checklist],
        "source": [dict(s) for s in item.source],
        "suggested_referrals": list(item.suggested_referrals),
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
