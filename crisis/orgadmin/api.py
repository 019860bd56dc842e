"""API: districts and teams (with who is on call), so an API client can find ids."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.core.api import ApiError, api
from crisis.core.apischema import read_query
from crisis.core.db import db, utcnow
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import paging_parameters
from crisis.organisation.models import District, Team
from crisis.staff.api import ID_MAX, PAGE_PARAMETERS, page, read_page

READERS = (Role.COORDINATOR, Role.ADMIN, Role.MANAGER)
MAX_DAYS = 31
ON_CALL_MAX = 500  # stretches of on-call in one answer; 31 days of hourly shifts fit
ON_CALL_PAGING = paging_parameters(default=ON_CALL_MAX, maximum=ON_CALL_MAX)


def district_json(d: District) -> dict:
    return {"id": d.id, "code": d.code, "name": d.name, "has_own_sig": d.has_own_sig,
            "sig_served_by_id": d.sig_served_by_id}


def team_json(t: Team) -> dict:
    from crisis.oncall.services import who_is_on_call

    on_call = who_is_on_call(db.session, t, utcnow())
    return {"id": t.id, "name": t.name, "district_id": t.district_id, "is_sig": t.is_sig,
            "member_ids": [m.user_id for m in sorted(t.members, key=lambda m: m.position)],
            "on_call_user_id": on_call.id if on_call else None}


def _paged_rows(model, args, extra=None):
    query = select(model)
    if extra is not None:
        query = query.where(extra)
    if "after" in args:
        query = query.where(model.id > args["after"])
    return list(db.session.scalars(query.order_by(model.id).limit(args["limit"] + 1)))


@api.get("/districts")
@roles_required(*READERS)
def api_list_districts():
    args = read_page(PAGE_PARAMETERS)
    return page(_paged_rows(District, args), args["limit"], district_json)


@api.get("/teams")
@roles_required(*READERS)
def api_list_teams():
    args = read_page([{"name": "district_id", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}, *PAGE_PARAMETERS])
    extra = Team.district_id == args["district_id"] if "district_id" in args else None
    return page(_paged_rows(Team, args, extra), args["limit"], team_json)


@api.get("/teams/<int:team_id>/on-call")
@roles_required(*Role)
def api_team_on_call(team_id: int):
    from crisis.oncall.services import on_call_schedule

    team = db.session.get(Team, team_id) if 0 < team_id <= ID_MAX else None
    if team is None or (not current_user.has_role(*READERS)
                        and not any(m.user_id == current_user.id for m in team.members)):
        raise ApiError(404, "Not Found", f"No team with id {team_id}.")
    from crisis.core.paging import page_from_request, page_of_list

    args = read_query([{"name": "days", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": 14}},
                       *ON_CALL_PAGING])
    segments = on_call_schedule(db.session, team, utcnow(), args["days"])
    chunk, next_cursor = page_of_list(segments, page_from_request(default=ON_CALL_MAX, maximum=ON_CALL_MAX))
    return {"team_id": team.id, "next_cursor": next_cursor, "items": [
        {"user_id": s.user.id if s.user else None, "starts_at": s.starts_at.isoformat(),
         "ends_at": s.ends_at.isoformat(), "source": s.source} for s in chunk]}


def _json(schema):
    return {"application/json": {"schema": schema}}


def _paged(ref):
    return {"type": "object", "required": ["items", "has_more", "next_after"], "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
        "has_more": {"type": "boolean"}, "next_after": {"type": ["integer", "null"]},
        "next_cursor": {"type": ["string", "null"]}}}


document(
    paths={
        "/districts": {"get": {
            "summary": "Districts (coordinators, managers, admins)", "operationId": "listDistricts",
            "tags": ["organisation"], "parameters": PAGE_PARAMETERS,
            "responses": {"200": {"description": "A page of districts", "content": _json(_paged("District"))},
                          **problem_responses(401, 403, 422)}}},
        "/teams": {"get": {
            "summary": "Teams with members in alert order and who is on call now (coordinators, managers, admins)",
            "operationId": "listTeams", "tags": ["organisation"],
            "parameters": [{"name": "district_id", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}, *PAGE_PARAMETERS],
            "responses": {"200": {"description": "A page of teams", "content": _json(_paged("Team"))},
                          **problem_responses(401, 403, 422)}}},
        "/teams/{team_id}/on-call": {"get": {
            "summary": "Who is on call for the next days (the team's members and coordinators)",
            "operationId": "getTeamOnCall", "tags": ["organisation"],
            "parameters": [{"name": "team_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}},
                           {"name": "days", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": 14}},
                           *ON_CALL_PAGING],
            "responses": {"200": {"description": "Stretches of on-call", "content": _json({
                "type": "object", "required": ["team_id", "items"], "properties": {
                    "team_id": {"type": "integer"}, "next_cursor": {"type": ["string", "null"]},
                    "items": {"type": "array", "items": {"type": "object", "properties": {
                        "user_id": {"type": ["integer", "null"]}, "starts_at": {"type": "string"},
                        "ends_at": {"type": "string"}, "source": {"enum": ["rota", "override", "none"]}}}}}})},
                **problem_responses(401, 404, 422)}}},
    },
    schemas={
        "District": {"type": "object", "required": ["id", "code", "name"], "properties": {
            "id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
            "has_own_sig": {"type": "boolean"}, "sig_served_by_id": {"type": ["integer", "null"]}}},
        "Team": {"type": "object", "required": ["id", "name", "district_id"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "district_id": {"type": "integer"},
            "is_sig": {"type": "boolean"}, "member_ids": {"type": "array", "items": {"type": "integer"}},
            "on_call_user_id": {"type": ["integer", "null"]}}},
    },
)
