"""The API's JSON for tasks, and the component schemas it publishes for them (Task, TaskList)."""

from __future__ import annotations

from datetime import datetime

from crisis.core.apischema import (
    ID_OR_NULL,
    LANG_MAP,
    NEXT_CURSOR_SCHEMA,
    TIME,
    TIME_OR_NULL,
    iso,
    lang,
    text_in,
    values_schema,
)
from crisis.core.openapi import document
from crisis.incidents.models import ConsentState
from crisis.tasks.models import Task, TaskCategory, TaskStatus
from crisis.tasks.queries import OPEN


def task_json(task: Task, now: datetime, *, show_note: bool, language: str | None = None) -> dict:
    """A task as the API shows it; a list passes `language` (lang()) once for all its tasks."""
    language = language or lang()
    relative = task.relative
    return {
        "id": task.id,
        "incident_id": task.incident_id,
        "incident_reference": task.incident.reference,
        "relative": None if relative is None else {
            "id": relative.id, "label": relative.label, "consent": relative.consent.value,
            "protected_identity": relative.protected_identity,
        },
        "person_id": task.person_id,
        "key": task.key,
        "phase_id": task.phase_id,
        "step_id": task.step_id,
        "title": task.title,
        "title_text": text_in(task.title, language),
        "description": task.description,
        "category": task.category.value,
        "agency": task.agency,
        "role": task.role,
        "owner_user_id": task.owner_user_id,
        "owner_team_id": task.owner_team_id,
        "due_at": iso(task.due_at),
        "due_anchor": task.due_anchor,
        "due_offset": task.due_offset,
        "overdue": task.status in OPEN and task.due_at is not None and task.due_at < now,
        "status": task.status.value,
        "checklist": [{"text": item.get("text", {}), "done": bool(item.get("done"))} for item in task.checklist],
        "source": task.source,
        "suggested_referrals": task.suggested_referrals,
        "note": task.note if show_note else None,
        "completed_at": iso(task.completed_at),
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "version": task.version,
    }


document(schemas={
    "Task": {
        "type": "object",
        "required": ["id", "incident_id", "title", "category", "status", "checklist", "version"],
        "properties": {
            "id": {"type": "integer"}, "incident_id": {"type": "integer"}, "incident_reference": {"type": "string"},
            "relative": {"type": ["object", "null"], "description": "The relative by label only.",
                         "properties": {"id": {"type": "integer"}, "label": {"type": "string"},
                                        "consent": values_schema(ConsentState),
                                        "protected_identity": {"type": "boolean"}}},
            "person_id": ID_OR_NULL,
            "key": {"type": ["string", "null"], "description": "Planner key; null for ad hoc tasks."},
            "phase_id": {"type": ["string", "null"]}, "step_id": {"type": ["string", "null"]},
            "title": LANG_MAP, "title_text": {"type": "string"},
            "description": {"anyOf": [LANG_MAP, {"type": "null"}]},
            "category": values_schema(TaskCategory), "agency": {"type": ["string", "null"]}, "role": {"type": "string"},
            "owner_user_id": ID_OR_NULL, "owner_team_id": ID_OR_NULL,
            "due_at": TIME_OR_NULL, "due_anchor": {"type": ["string", "null"]},
            "due_offset": {"type": ["string", "null"]}, "overdue": {"type": "boolean"},
            "status": values_schema(TaskStatus),
            "checklist": {"type": "array", "items": {"type": "object", "required": ["text", "done"],
                                                     "properties": {"text": LANG_MAP,
                                                                    "done": {"type": "boolean"}}}},
            "source": {"type": "array", "items": {"type": "object"}},
            "suggested_referrals": {"type": "array", "items": {"type": "string"}},
            "note": {"type": ["string", "null"],
                     "description": "Null when the caller may not see the relative's record."},
            "completed_at": TIME_OR_NULL, "created_at": TIME, "updated_at": TIME,
            "version": {"type": "integer", "description": "Send it back (If-Match or version) to change the task."},
        },
    },
    "TaskList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
                       "next_cursor": NEXT_CURSOR_SCHEMA},
    },
})
