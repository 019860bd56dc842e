"""Tasks' answer to the playbook engine's signal (crisis.core.signals), in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select

from crisis.core.db import update_versioned
from crisis.core.signals import plan_laid_out
from crisis.organisation.models import Team
from crisis.playbooks.engine import sig_team
from crisis.playbooks.plan import PlannedTask
from crisis.tasks.models import Task, TaskStatus


@plan_laid_out.connect
def reconcile_tasks(_sender, *, session, incident, tasks, relatives, persons, result, **_kwargs) -> None:
    """Bring the incident's tasks in line with the plan; record what changed in `result`."""
    planned = tasks
    existing = {
        t.key: t for t in session.scalars(
            select(Task).where(Task.incident_id == incident.id, Task.key.is_not(None))
        )
    }
    team = None
    wanted = set()
    changes: list[tuple[Task, dict]] = []
    for item in planned:
        wanted.add(item.key)
        task = existing.get(item.key)
        if task is None:
            if team is None:
                team = sig_team(session, incident.district) or False
            relative = relatives.get(item.subject_ref) if item.scope == "relative" else None
            session.add(_new_task(incident, item, relative, persons.get(item.subject_ref), team or None))
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
    # Re-dated, reopened and cancelled tasks: one UPDATE per kind of change, not one per task.
    update_versioned(session, changes)


def _new_task(incident, item: PlannedTask, relative, person, team: Team | None) -> Task:
    owner_user_id = None
    owner_team_id = None
    if item.role == "coordinator":
        owner_user_id = incident.coordinator_id
    elif item.role == "outreach":
        owner_user_id = relative.contact_person_id if relative is not None else None
        owner_team_id = team.id if team is not None else None
    return Task(
        incident_id=incident.id,
        relative_id=relative.id if relative is not None else None,
        person_id=person.id if person is not None else None,
        key=item.key,
        phase_id=item.phase_id,
        step_id=item.step_id,
        title=dict(item.title),
        description=dict(item.description) if item.description else None,
        category=item.category,
        agency=item.agency,
        role=item.role,
        owner_user_id=owner_user_id,
        owner_team_id=owner_team_id,
        due_at=item.due_at,
        due_anchor=item.anchor,
        due_offset=item.offset,
        checklist=[{"text": dict(text), "done": False} for text in item.checklist],
        source=[dict(s) for s in item.source],
        suggested_referrals=list(item.suggested_referrals),
    )
