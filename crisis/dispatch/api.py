"""API: dispatch staff to an incident or a visit, acknowledge, cancel, list."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crisis.auth.models import Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.core.api import ApiError, api, json_body
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import NEXT_CURSOR, page_from_request, page_of_query, paging_parameters
from crisis.dispatch.models import Dispatch, DispatchAttempt, DispatchStatus
from crisis.dispatch.services import (
    PURPOSES,
    AckOutcome,
    DispatchError,
    acknowledge_dispatch,
    can_view_dispatch,
    cancel_dispatch,
    dispatch_json,
    dispatch_staff,
    dispatch_team,
)
from crisis.incidents.access import can_edit_incident, can_view_incident
from crisis.incidents.models import Incident
from crisis.organisation.models import Team
from crisis.tasks.models import Task

_OPEN = [DispatchStatus.PENDING, DispatchStatus.EXHAUSTED]
#: Ids are 32-bit on every engine; a larger number names nothing (and would overflow SQLite).
ID_MAX = 2**31 - 1


def _incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id) if incident_id <= ID_MAX else None
    if incident is None or not can_view_incident(db.session, current_user, incident):
        raise ApiError(404, "Not Found", f"No incident {incident_id} that you can see.")
    return incident


def _dispatch(dispatch_id: int) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id) if dispatch_id <= ID_MAX else None
    if dispatch is None or not can_view_dispatch(db.session, current_user, dispatch):
        raise ApiError(404, "Not Found", f"No dispatch {dispatch_id} that you can see.")
    return dispatch


def _int_id(data: dict, key: str, required: bool = False) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ApiError(422, "Unprocessable Content", f"{key} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
        raise ApiError(422, "Unprocessable Content", f"{key} must be a positive integer id.")
    return value


def _get(model, key: str, value: int | None):
    if value is None:
        return None
    row = db.session.get(model, value)
    if row is None:
        raise ApiError(422, "Unprocessable Content", f"No {key.removesuffix('_id')} with id {value}.")
    return row


def _visible_dispatches():
    query = select(Dispatch)
    if current_user.has_role(Role.ADMIN, Role.COORDINATOR, Role.MANAGER):
        return query
    mine = select(DispatchAttempt.dispatch_id).where(DispatchAttempt.user_id == current_user.id)
    return query.where(or_(Dispatch.id.in_(mine), Dispatch.user_id == current_user.id))


def _status_filter(query):
    wanted = request.args.get("status")
    if wanted is None:
        return query
    if wanted == "open":
        return query.where(Dispatch.status.in_(_OPEN))
    try:
        return query.where(Dispatch.status == DispatchStatus(wanted))
    except ValueError:
        allowed = ", ".join(["open", *(s.value for s in DispatchStatus)])
        raise ApiError(400, "Bad Request", f"status must be one of: {allowed}.") from None


DISPATCHES_PAGE, DISPATCHES_MAX = 100, 500


def _page_of(query) -> dict:
    page = page_from_request(default=DISPATCHES_PAGE, maximum=DISPATCHES_MAX)
    rows, next_cursor = page_of_query(
        db.session,
        query.options(selectinload(Dispatch.incident),
                      selectinload(Dispatch.attempts).selectinload(DispatchAttempt.message))
        .order_by(Dispatch.id.desc()),
        page,
    )
    return {"items": [dispatch_json(d) for d in rows], "next_cursor": next_cursor}


# GET before POST on the same URL: with the bounded id converter, an id out of
# range then answers 404 for every method (Werkzeug reports 405 otherwise).
@api.get("/incidents/<int:incident_id>/dispatches")
@login_required
def list_incident_dispatches(incident_id: int):
    incident = _incident(incident_id)
    return _page_of(_status_filter(_visible_dispatches().where(Dispatch.incident_id == incident.id)))


@api.post("/incidents/<int:incident_id>/dispatches")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def create_dispatches(incident_id: int):
    incident = _incident(incident_id)
    if not can_edit_incident(db.session, current_user, incident):
        raise ApiError(403, "Forbidden", "Only coordinators and admins dispatch staff.")
    data = json_body()
    purpose = data.get("purpose", "incident")
    if purpose not in PURPOSES:
        raise ApiError(422, "Unprocessable Content", f"purpose must be one of: {', '.join(PURPOSES)}.")
    team = _get(Team, "team_id", _int_id(data, "team_id"))
    task = _get(Task, "task_id", _int_id(data, "task_id"))
    user_ids = data.get("user_ids")
    if (team is None) == (user_ids is None):
        raise ApiError(422, "Unprocessable Content",
                       "Send either team_id (the team's on-call order) or user_ids (named staff), not both.")
    try:
        if team is not None:
            dispatches = [dispatch_team(db.session, incident=incident, team=team, actor=current_user,
                                        purpose=purpose, task=task)]
        else:
            if (not isinstance(user_ids, list) or not user_ids
                    or not all(isinstance(u, int) and not isinstance(u, bool) and 1 <= u <= ID_MAX
                               for u in user_ids)):
                raise ApiError(422, "Unprocessable Content", "user_ids must be a non-empty list of user ids.")
            # One query for everyone named; an unknown id is named in the answer.
            found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
            missing = next((uid for uid in dict.fromkeys(user_ids) if uid not in found), None)
            if missing is not None:
                raise ApiError(422, "Unprocessable Content", f"No user with id {missing}.")
            users = [found[uid] for uid in dict.fromkeys(user_ids)]
            escalation_team = _get(Team, "escalation_team_id", _int_id(data, "escalation_team_id"))
            dispatches = dispatch_staff(db.session, incident=incident, users=users, actor=current_user,
                                        purpose=purpose, task=task, escalation_team=escalation_team)
    except DispatchError as exc:
        db.session.rollback()
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    db.session.commit()
    return {"items": [dispatch_json(d) for d in dispatches]}, 201


@api.get("/dispatches")
@login_required
def list_dispatches():
    return _page_of(_status_filter(_visible_dispatches()))


@api.get("/dispatches/<int:dispatch_id>")
@login_required
def get_dispatch(dispatch_id: int):
    return dispatch_json(_dispatch(dispatch_id))


@api.post("/dispatches/<int:dispatch_id>/acknowledge")
@login_required
def acknowledge(dispatch_id: int):
    dispatch = _dispatch(dispatch_id)
    outcome = acknowledge_dispatch(db.session, dispatch, user=current_user, via="api")
    if outcome == AckOutcome.NOT_ALLOWED:
        db.session.rollback()
        raise ApiError(403, "Forbidden", "Only the people alerted, the team and coordinators acknowledge.")
    if outcome == AckOutcome.CLOSED:
        db.session.rollback()
        raise ApiError(409, "Conflict", "The dispatch was cancelled; there is nothing to acknowledge.")
    db.session.commit()
    return dispatch_json(dispatch)


@api.post("/dispatches/<int:dispatch_id>/cancel")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def cancel(dispatch_id: int):
    dispatch = _dispatch(dispatch_id)
    if not cancel_dispatch(db.session, dispatch, actor=current_user):
        db.session.rollback()
        raise ApiError(409, "Conflict", f"The dispatch is already {dispatch.status.value}.")
    db.session.commit()
    return dispatch_json(dispatch)


_DISPATCH = {"$ref": "#/components/schemas/Dispatch"}
_LIST = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": _DISPATCH}}}
_ID = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
_ID_VALUE = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
_STATUS = {"name": "status", "in": "query", "required": False,
           "schema": {"enum": ["open", *(s.value for s in DispatchStatus)]}}
_PAGING = paging_parameters(default=DISPATCHES_PAGE, maximum=DISPATCHES_MAX)
_PAGED_LIST = {"type": "object", "required": ["items"],
               "properties": {"items": {"type": "array", "items": _DISPATCH}, "next_cursor": NEXT_CURSOR}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


document(
    paths={
        "/incidents/{incident_id}/dispatches": {
            "post": {
                "summary": "Dispatch a team (on-call order) or named staff to the incident or a visit",
                "operationId": "createDispatches", "tags": ["dispatch"],
                "parameters": [{"name": "incident_id", **_ID}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "team_id": _ID_VALUE,
                        "user_ids": {"type": "array", "minItems": 1, "items": _ID_VALUE},
                        "escalation_team_id": {**_ID_VALUE,
                                               "description": "With user_ids: whose on-call order follows."},
                        "purpose": {"enum": list(PURPOSES), "default": "incident"},
                        "task_id": {**_ID_VALUE,
                                    "description": "The visit's task; required when purpose is visit."},
                    },
                }}}},
                "responses": {"201": _json(_LIST, "The dispatches created (one per named person)"),
                              **problem_responses(400, 401, 403, 404, 415, 422)},
            },
            "get": {
                "summary": "Dispatches of an incident", "operationId": "listIncidentDispatches",
                "tags": ["dispatch"], "parameters": [{"name": "incident_id", **_ID}, _STATUS, *_PAGING],
                "responses": {"200": _json(_PAGED_LIST, "Dispatches, newest first"),
                              **problem_responses(400, 401, 404, 422)},
            },
        },
        "/dispatches": {"get": {
            "summary": "Dispatches you may see (all for coordinators and managers; your own alerts otherwise)",
            "operationId": "listDispatches", "tags": ["dispatch"], "parameters": [_STATUS, *_PAGING],
            "responses": {"200": _json(_PAGED_LIST, "Dispatches, newest first"), **problem_responses(400, 401, 422)},
        }},
        "/dispatches/{dispatch_id}": {"get": {
            "summary": "One dispatch with its alerts", "operationId": "getDispatch", "tags": ["dispatch"],
            "parameters": [{"name": "dispatch_id", **_ID}],
            "responses": {"200": _json(_DISPATCH, "The dispatch"), **problem_responses(401, 404)},
        }},
        "/dispatches/{dispatch_id}/acknowledge": {"post": {
            "summary": "Acknowledge: I am taking this (idempotent)", "operationId": "acknowledgeDispatch",
            "tags": ["dispatch"], "parameters": [{"name": "dispatch_id", **_ID}],
            "responses": {"200": _json(_DISPATCH, "The dispatch"), **problem_responses(401, 403, 404, 409)},
        }},
        "/dispatches/{dispatch_id}/cancel": {"post": {
            "summary": "Call the dispatch off; alerts not yet sent are withdrawn", "operationId": "cancelDispatch",
            "tags": ["dispatch"], "parameters": [{"name": "dispatch_id", **_ID}],
            "responses": {"200": _json(_DISPATCH, "The dispatch"), **problem_responses(401, 403, 404, 409)},
        }},
    },
    schemas={"Dispatch": {
        "type": "object",
        "required": ["id", "ref", "incident_id", "purpose", "status", "escalation_level", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "ref": {"type": "string", "description": "What the SMS carries: incident reference and dispatch number."},
            "incident_id": {"type": "integer"}, "incident_reference": {"type": "string"},
            "purpose": {"enum": list(PURPOSES)},
            "task_id": {"type": ["integer", "null"]}, "team_id": {"type": ["integer", "null"]},
            "user_id": {"type": ["integer", "null"]},
            "status": {"enum": [s.value for s in DispatchStatus]},
            "escalation_level": {"type": "integer"},
            "ack_deadline_at": {"type": ["string", "null"], "format": "date-time"},
            "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
            "acknowledged_by_id": {"type": ["integer", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "created_by_id": {"type": ["integer", "null"]},
            "attempts": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "level": {"type": "integer"}, "user_id": {"type": "integer"},
                    "alerted_at": {"type": "string", "format": "date-time"},
                    "message_id": {"type": ["integer", "null"]},
                    "message_status": {"type": ["string", "null"]},
                    "message_error_code": {"type": ["string", "null"]},
                },
            }},
        },
    }},
)
