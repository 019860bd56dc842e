"""API: an incident's tasks, my tasks, and working a task from a phone.

Two phones may edit the same task: every change names the version it was
based on (If-Match or `version`) and a stale one is refused with 409/412 and
the current version, never silently overwritten (issue 4).
"""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload, load_only

from crisis.auth.models import Role
from crisis.auth.permissions import login_required, roles_required
from crisis.core.api import ApiError, api
from crisis.core.apischema import (
    ETAG,
    ID_MAX,
    IF_MATCH,
    INVALID,
    LOCATION,
    STALE,
    datetime_schema,
    enum_schema,
    expected_version,
    id_schema,
    json_response,
    lang,
    perform,
    read_body,
    read_query,
    row_or_404,
    text_schema,
    unprocessable,
)
from crisis.core.db import db, utcnow
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import page_from_request, page_of_query, paging_parameters
from crisis.incidents import access
from crisis.incidents.api import (
    INCIDENT_ID,
    NULLABLE_ID,
    editable_incident,
    visible_incident,
    with_etag,
)
from crisis.incidents.models import Incident, Relative
from crisis.tasks import services
from crisis.tasks.models import Task, TaskCategory, TaskStatus
from crisis.tasks.queries import mine, my_tasks_query
from crisis.tasks.serializers import task_json


class NoteReader:
    """Whether the caller may read each task's note, without a query per task.

    A note may say things about the relative, so it goes where the relative's
    record may (crisis.incidents.access.can_see_relative_details); a note on an
    incident-wide task to coordinators, admins and staff assigned to the incident.
    Given the tasks of a list, whether the caller is assigned to their incidents is
    asked once for all of them, when a rule first needs it (coordinators' never do).
    """

    def __init__(self, user, tasks: list[Task] = ()):
        # The user behind Flask-Login's proxy, looked up once rather than on every check.
        self.user = user._get_current_object() if hasattr(user, "_get_current_object") else user
        self._relatives: dict[int, bool] = {}
        self._incidents: dict[int, bool] = {}
        self._listed = {t.incident_id for t in tasks}
        self._assigned: set[int] | None = None

    def is_assigned(self, incident_id: int) -> bool:
        if incident_id not in self._listed:
            return access.is_assigned(db.session, self.user, incident_id)
        if self._assigned is None:
            self._assigned = access.assigned_among(db.session, self.user, self._listed)
        return incident_id in self._assigned

    def __call__(self, task: Task) -> bool:
        if task.relative is not None:
            if task.relative_id not in self._relatives:
                self._relatives[task.relative_id] = access.can_see_relative_details(
                    db.session, self.user, task.relative, assigned=self.is_assigned)
            return self._relatives[task.relative_id]
        if task.incident_id not in self._incidents:
            self._incidents[task.incident_id] = (
                access.can_edit_incident(db.session, self.user, task.incident)
                or self.is_assigned(task.incident_id))
        return self._incidents[task.incident_id]


def tasks_json(tasks: list[Task]) -> list[dict]:
    now, may_read, language = utcnow(), NoteReader(current_user, tasks), lang()
    return [task_json(t, now, show_note=may_read(t), language=language) for t in tasks]


#: What a list of tasks loads beside the tasks: of the incident only what the JSON and the
#: note check read (its reference and coordinator), of the relative its label and what the
#: note check reads, not the encrypted name, phone and notes or the incident's place; reading
#: anything else from these raises instead of costing a query per task.
LISTED = (
    joinedload(Task.incident, innerjoin=True).load_only(Incident.id, Incident.reference, Incident.coordinator_id,
                                                        raiseload=True),
    joinedload(Task.relative).load_only(Relative.id, Relative.incident_id, Relative.label, Relative.consent,
                                          Relative.protected_identity, Relative.contact_person_id,
                                          raiseload=True),
    defer(Task.overdue_notified_at, raiseload=True), defer(Task.blocked_reason, raiseload=True),
)


def one_task_json(task: Task) -> dict:
    return task_json(task, utcnow(), show_note=NoteReader(current_user)(task))


def visible_task(task_id: int) -> Task:
    task = row_or_404(db.session, Task, task_id, "task")
    visible_incident(task.incident_id)
    return task


INCIDENT_TASK_PARAMETERS = [
    {"name": "status", "in": "query", "description": "Only tasks with this status (cancelled ones only when asked).",
     "schema": enum_schema(TaskStatus)},
    {"name": "phase", "in": "query", "description": "Only tasks of this playbook phase.",
     "schema": {"type": "string", "minLength": 1, "maxLength": 100}},
    {"name": "mine", "in": "query", "description": "Only tasks I own, or my teams own and no one has taken.",
     "schema": {"type": "boolean"}},
    {"name": "relative_id", "in": "query", "description": "Only tasks about this relative.",
     "schema": id_schema()},
]


TASKS_MAX = 500


@api.get("/incidents/<int:incident_id>/tasks")
@login_required
def list_incident_tasks(incident_id: int):
    page = page_from_request(default=200, maximum=TASKS_MAX)
    # Of the incident only what the access check and the tasks' JSON read: not its encrypted place.
    incident = visible_incident(incident_id, options=[load_only(Incident.id, Incident.reference,
                                                               Incident.coordinator_id, raiseload=True)])
    args = read_query(INCIDENT_TASK_PARAMETERS)
    query = select(Task).where(Task.incident_id == incident.id)
    if "status" in args:
        query = query.where(Task.status == args["status"])
    else:
        query = query.where(Task.status != TaskStatus.CANCELLED)  # their condition no longer holds
    if "phase" in args:
        query = query.where(Task.phase_id == args["phase"])
    if "relative_id" in args:
        query = query.where(Task.relative_id == args["relative_id"])
    if args.get("mine"):
        query = query.where(mine(db.session, current_user))
    tasks, next_cursor = page_of_query(
        db.session,
        query.options(*LISTED)
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id),
        page,
    )
    return {"items": tasks_json(tasks), "next_cursor": next_cursor}


@api.post("/incidents/<int:incident_id>/tasks")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def create_task(incident_id: int):
    incident = editable_incident(incident_id)
    data = read_body("TaskCreate")
    task = perform(db.session, lambda: services.create_task(db.session, incident, actor=current_user, **data))
    return with_etag(one_task_json(task), 201, Location=url_for("api.get_task", task_id=task.id))


@api.get("/me/tasks")
@login_required
def list_my_tasks():
    """Open tasks I own, or my teams own and no one has taken, soonest deadline first (Mina uppgifter)."""
    page = page_from_request(default=100, maximum=TASKS_MAX)
    query = my_tasks_query(db.session, current_user, loading=LISTED)
    tasks, next_cursor = page_of_query(db.session, query, page)
    return {"items": tasks_json(tasks), "next_cursor": next_cursor}


@api.get("/tasks/<int:task_id>")
@login_required
def get_task(task_id: int):
    return with_etag(one_task_json(visible_task(task_id)))


@api.patch("/tasks/<int:task_id>")
@login_required
def update_task(task_id: int):
    task = visible_task(task_id)
    if not access.can_work_task(db.session, current_user, task):
        raise ApiError(403, "Forbidden", "You may change tasks you or your team own on incidents you are "
                                         "assigned to; coordinators change any task.")
    change = read_body("TaskChange")
    version, from_header = expected_version(change)
    if not change:
        raise unprocessable([(None, "Nothing to change; send at least one of: status, note, checklist, "
                                    "owner_user_id, due_at.")])
    coordinating = current_user.has_role(Role.COORDINATOR, Role.ADMIN)
    if "due_at" in change and not coordinating:
        raise ApiError(403, "Forbidden", "Only coordinators move a deadline; ask the incident's coordinator.")
    if "owner_user_id" in change and not coordinating and change["owner_user_id"] != current_user.id:
        raise ApiError(403, "Forbidden", f"You may take a task yourself (owner_user_id {current_user.id}); "
                                         "only coordinators give it to someone else.")
    kwargs: dict = {}
    if "status" in change:
        kwargs["status"] = change["status"]
    if "note" in change:
        kwargs["note"] = change["note"] or ""  # null clears the note, as in a JSON merge patch
    if change.get("blocked_reason"):
        kwargs["blocked_reason"] = change["blocked_reason"]
    if "checklist" in change:
        kwargs["checklist_done"] = change["checklist"]
    for name in ("owner_user_id", "due_at"):
        if name in change:
            kwargs[name] = change[name]
    perform(db.session, lambda: services.update_task(
        db.session, task, actor=current_user, expected_version=version, **kwargs),
        from_header=from_header, current_version=lambda: db.session.get(Task, task_id).version)
    return with_etag(one_task_json(task))


TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": id_schema("The task's id.")}
TAGS = ["tasks"]

document(
    paths={
        "/incidents/{incident_id}/tasks": {
            "get": {
                "summary": "The incident's tasks, soonest deadline first", "operationId": "listIncidentTasks",
                "tags": TAGS, "parameters": [INCIDENT_ID, *INCIDENT_TASK_PARAMETERS,
                                               *paging_parameters(default=200, maximum=TASKS_MAX)],
                "responses": {"200": json_response("TaskList", "Tasks"), **problem_responses(401, 403, 404),
                              **INVALID},
            },
            "post": {
                "summary": "Add an ad hoc task no playbook step foresaw", "operationId": "createTask",
                "tags": TAGS, "parameters": [INCIDENT_ID], "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TaskCreate"}}}},
                "responses": {"201": json_response("Task", "The new task", headers={**LOCATION, **ETAG}),
                              **problem_responses(400, 401, 403, 404, 415), **INVALID},
            },
        },
        "/me/tasks": {
            "get": {
                "summary": "My open tasks (mine, or my teams' that no one has taken), soonest deadline first",
                "operationId": "listMyTasks", "tags": TAGS,
                "parameters": paging_parameters(default=100, maximum=TASKS_MAX),
                "responses": {"200": json_response("TaskList", "Tasks"), **problem_responses(401), **INVALID},
            },
        },
        "/tasks/{task_id}": {
            "get": {
                "summary": "A task", "operationId": "getTask", "tags": TAGS, "parameters": [TASK_ID],
                "responses": {"200": json_response("Task", "The task", headers=ETAG),
                              **problem_responses(401, 403, 404)},
            },
            "patch": {
                "summary": "Work a task: status, checklist, note; coordinators also owner and deadline",
                "operationId": "updateTask", "tags": TAGS, "parameters": [TASK_ID, IF_MATCH],
                "description": "Say which version you changed (If-Match or version). A stale change is refused "
                               "with 409 (412 for If-Match) and current_version; nothing is overwritten. "
                               "Outreach staff change tasks they or their team own on incidents they are "
                               "assigned to, and may take a task (owner_user_id = their own id).",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TaskChange"}}}},
                "responses": {"200": json_response("Task", "The task", headers=ETAG),
                              **problem_responses(400, 401, 403, 404, 415), **INVALID, **STALE},
            },
        },
    },
    schemas={
        "TaskChange": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "status": enum_schema(TaskStatus, exclude=[TaskStatus.CANCELLED],
                                      description="open → in_progress → done, or blocked / not_applicable."),
                "note": text_schema(5000, "Null or empty clears it; kept out of the timeline.", nullable=True),
                "blocked_reason": text_schema(200, "Required with status blocked: what blocks the task "
                                                   "(shown to the coordinator; no names).", nullable=True),
                "checklist": {"type": "array", "maxItems": 100, "items": {"type": "boolean"},
                              "description": "Done or not, one value per checklist item, in order."},
                "owner_user_id": {**NULLABLE_ID, "description": "Coordinators: anyone; outreach: themselves."},
                "due_at": datetime_schema("Coordinators only", nullable=True),
                "version": {"type": "integer", "minimum": 1, "maximum": ID_MAX,
                            "description": "The version you read (or send If-Match)."},
            },
        },
        "TaskCreate": {
            "type": "object", "additionalProperties": False, "required": ["title"],
            "properties": {
                "title": text_schema(300, min_length=1),
                "category": enum_schema(TaskCategory),
                "due_at": datetime_schema(nullable=True),
                "owner_user_id": NULLABLE_ID,
                "relative_id": {**NULLABLE_ID, "description": "A relative of this incident."},
                "description": text_schema(5000, nullable=True),
            },
        },
    },
)
