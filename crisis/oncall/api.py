"""API: set a team's on-call rota and add changes (coordinators and admins)."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from flask_login import current_user

from crisis.auth.models import Role, User
from crisis.auth.permissions import roles_required
from crisis.core.api import ApiError, api, json_body
from crisis.core.apischema import unprocessable
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.oncall import services
from crisis.oncall.services import OVERRIDE_REASONS, RotaError
from crisis.organisation.models import Team

ID_MAX = 2**31 - 1
MAX_SHIFTS = 500


def _team(team_id: int) -> Team:
    team = db.session.get(Team, team_id) if 0 < team_id <= ID_MAX else None
    if team is None:
        raise ApiError(404, "Not Found", _("No team with id %(id)s.", id=team_id))
    return team


def _refused(error: RotaError):
    db.session.rollback()
    return unprocessable([(None, str(p)) for p in error.problems])


@api.put("/teams/<int:team_id>/rota")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def api_set_rota(team_id: int):
    team = _team(team_id)
    data = json_body()
    shifts = data.get("shifts")
    if set(data) - {"starts_on", "cycle_days", "shifts"} or not isinstance(shifts, list) or not shifts \
            or len(shifts) > MAX_SHIFTS \
            or not isinstance(data.get("cycle_days"), int) or isinstance(data.get("cycle_days"), bool):
        raise unprocessable([(None, _("Send starts_on (a date), cycle_days (1-366) and shifts: "
                                      "[{start: 'day 1 08:00', end: 'day 2 08:00', user_id}]."))])
    try:
        starts_on = date.fromisoformat(str(data.get("starts_on")))
        if not 2000 <= starts_on.year <= 2100:
            raise ValueError
    except ValueError:
        raise unprocessable([("starts_on", _("starts_on is a date, e.g. 2027-01-04."))]) from None
    specs = []
    try:
        for shift in shifts:
            if not isinstance(shift, dict) or not isinstance(shift.get("user_id"), int) \
                    or not isinstance(shift.get("start"), str) or not isinstance(shift.get("end"), str):
                raise RotaError([_("each shift is {start: 'day 1 08:00', end: 'day 2 08:00', user_id}")])
            specs.append(services.ShiftSpec(services.parse_minute(shift["start"]), services.parse_minute(shift["end"]),
                                            shift["user_id"]))
        rotation = services.save_rotation(db.session, team, starts_on=starts_on, cycle_days=data["cycle_days"],
                                          shifts=specs, actor=current_user)
    except RotaError as error:
        raise _refused(error) from None
    db.session.commit()
    return rota_json(team, rotation)


def rota_json(team, rotation) -> dict:
    return {"team_id": team.id, "starts_on": rotation.starts_on.isoformat(), "cycle_days": rotation.cycle_days,
            "shifts": [{"start": services.minute_label(s.start_minute), "end": services.minute_label(s.end_minute),
                        "user_id": s.user_id} for s in rotation.shifts]}


@api.post("/teams/<int:team_id>/overrides")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def api_add_override(team_id: int):
    team = _team(team_id)
    data = json_body()
    if set(data) - {"user_id", "starts_at", "ends_at", "reason"}:
        raise unprocessable([(None, _("Send user_id, starts_at, ends_at and reason."))])
    user_id = data.get("user_id")
    user = db.session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id <= ID_MAX else None
    if user is None:
        raise unprocessable([("user_id", _("user_id names a member of staff."))])
    try:
        starts_at = datetime.fromisoformat(str(data.get("starts_at")))
        ends_at = datetime.fromisoformat(str(data.get("ends_at")))
        if any(t.tzinfo is None or not 2000 <= t.year <= 2100 for t in (starts_at, ends_at)):
            raise ValueError
    except ValueError:
        raise unprocessable([("starts_at", _("starts_at and ends_at are ISO 8601 date-times with offset, "
                                             "between the years 2000 and 2100."))]) from None
    try:
        override = services.add_override(db.session, team, user=user, starts_at=starts_at, ends_at=ends_at,
                                          reason=data.get("reason", "swap"), actor=current_user)
    except RotaError as error:
        raise _refused(error) from None
    db.session.commit()
    return {"id": override.id, "team_id": team.id, "user_id": user.id, "reason": override.reason,
            "starts_at": override.starts_at.isoformat(), "ends_at": override.ends_at.isoformat()}, 201


_TEAM = {"name": "team_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                        "maximum": ID_MAX}}


def _json(schema):
    return {"application/json": {"schema": schema}}


document(paths={
    "/teams/{team_id}/rota": {"put": {
        "summary": "Replace a team's on-call rota; gaps and overlaps are refused with the hours (coordinators, admins)",
        "operationId": "setTeamRota", "tags": ["organisation"], "parameters": [_TEAM],
        "requestBody": {"required": True, "content": _json({
            "type": "object", "additionalProperties": False, "required": ["starts_on", "cycle_days", "shifts"],
            "properties": {
                "starts_on": {"type": "string", "format": "date"},
                "cycle_days": {"type": "integer", "minimum": 1, "maximum": 366},
                "shifts": {"type": "array", "minItems": 1, "maxItems": MAX_SHIFTS, "items": {
                    "type": "object", "additionalProperties": False, "required": ["start", "end", "user_id"],
                    "properties": {"start": {"type": "string", "maxLength": 20, "description": "e.g. 'day 1 08:00'"},
                                   "end": {"type": "string", "maxLength": 20},
                                   "user_id": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}}}}})},
        "responses": {"200": {"description": "The rota", "content": _json({"type": "object"})},
                      **problem_responses(400, 401, 403, 404, 415, 422)}}},
    "/teams/{team_id}/overrides": {"post": {
        "summary": "Put someone else on call for a while: a swapped shift, sick leave (coordinators, admins)",
        "operationId": "addTeamOverride", "tags": ["organisation"], "parameters": [_TEAM],
        "requestBody": {"required": True, "content": _json({
            "type": "object", "additionalProperties": False, "required": ["user_id", "starts_at", "ends_at"],
            "properties": {"user_id": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
                           "starts_at": {"type": "string", "format": "date-time"},
                           "ends_at": {"type": "string", "format": "date-time"},
                           "reason": {"enum": list(OVERRIDE_REASONS)}}})},
        "responses": {"201": {"description": "The change", "content": _json({"type": "object"})},
                      **problem_responses(400, 401, 403, 404, 415, 422)}}},
})
