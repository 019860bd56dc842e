"""API: staff administration (admins) and API tokens (everyone their own; admins all)."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from crisis.auth.api import user_json
from crisis.auth.models import ApiToken, Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.auth.services import AccountError
from crisis.core.api import ApiError, api, json_body
from crisis.core.apischema import read_query, unprocessable
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.organisation.models import Team
from crisis.staff import services

MAX_PAGE = 200
ID_MAX = 2**31 - 1
PAGE_PARAMETERS = [
    {"name": "after", "in": "query", "description": "Only rows with a larger id (the previous page's next_after).",
     "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX}},
    {"name": "limit", "in": "query", "description": f"Rows per page, at most {MAX_PAGE}.",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}},
    {"name": "cursor", "in": "query", "description": "The next_cursor of the previous page; leave out for the first.",
     "schema": {"type": "string", "maxLength": 200}},
]


def read_page(parameters: list[dict]) -> dict:
    """The query, with a `cursor` (crisis.core.paging) read back into `after`."""
    from crisis.core.paging import decode_cursor

    args = read_query(parameters)
    cursor = args.pop("cursor", None)
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= ID_MAX:
            raise unprocessable([("cursor", "cursor is not one this API gave out: pass back the next_cursor "
                                            "of the previous page unchanged.")])
        args["after"] = after
    return args


def page(rows: list, limit: int, as_json) -> dict:
    from crisis.core.paging import encode_cursor

    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].id if rows else None
    return {"items": [as_json(r) for r in rows], "has_more": more, "next_after": last,
            "next_cursor": encode_cursor({"after": last}) if more else None}


def staff_json(user: User) -> dict:
    return {**user_json(user), "phone": user.phone, "active": user.active,
            "has_password": user.password_hash is not None, "two_factor": user.totp_secret is not None}


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id <= ID_MAX else None
    if user is None:
        raise ApiError(404, "Not Found", f"No staff with id {user_id}.")
    return user


def _check_fields(data: dict, allowed: dict[str, tuple]) -> None:
    problems = [(k, f"Unknown field {k}; allowed: {', '.join(allowed)}.") for k in data if k not in allowed]
    for key, types in allowed.items():
        if key in data and not isinstance(data[key], types):
            problems.append((key, f"{key} has the wrong type."))
    if "roles" in data and isinstance(data["roles"], list) and not all(isinstance(r, str) for r in data["roles"]):
        problems.append(("roles", "roles is a list of role names."))
    if problems:
        raise unprocessable(problems)


def _apply(change):
    try:
        result = change()
    except AccountError as error:
        db.session.rollback()
        raise unprocessable([(None, str(error))]) from None
    db.session.commit()
    return result


@api.get("/staff")
@roles_required(Role.ADMIN)
def api_list_staff():
    args = read_page([{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                       *PAGE_PARAMETERS])
    rows = services.search_staff(db.session, args.get("q"), after=args.get("after"), limit=args["limit"] + 1)
    return page(rows, args["limit"], staff_json)


INVITE_FIELDS = {"email": (str,), "roles": (list,), "name": (str, type(None)), "phone": (str, type(None)),
                 "district_id": (int, type(None)), "language": (str,), "send_sms": (bool,)}


@api.post("/staff")
@roles_required(Role.ADMIN)
def api_invite_staff():
    data = json_body()
    _check_fields(data, INVITE_FIELDS)
    if "email" not in data or "roles" not in data:
        raise unprocessable([("email", "email and roles are required.")])
    user, link = _apply(lambda: services.invite_user(
        db.session, actor=current_user, email=data["email"], roles=data["roles"], name=data.get("name"),
        phone=data.get("phone"), district=data.get("district_id"), language=data.get("language", "sv"),
        send_sms=data.get("send_sms", False)))
    return {"user": staff_json(user), "invite_url": link.url, "expires_at": link.record.expires_at.isoformat()}, 201


UPDATE_FIELDS = {"roles": (list,), "name": (str,), "phone": (str, type(None)), "district_id": (int, type(None)),
                 "language": (str,)}


@api.patch("/staff/<int:user_id>")
@roles_required(Role.ADMIN)
def api_update_staff(user_id: int):
    user = _user(user_id)
    data = json_body()
    _check_fields(data, UPDATE_FIELDS)
    _apply(lambda: services.update_user(
        db.session, user, actor=current_user, roles=data.get("roles"),
        district=data["district_id"] if "district_id" in data else ...,
        phone=data["phone"] if "phone" in data else ..., language=data.get("language"), name=data.get("name")))
    return staff_json(user)


@api.post("/staff/<int:user_id>/deactivate")
@roles_required(Role.ADMIN)
def api_deactivate_staff(user_id: int):
    user = _user(user_id)
    _apply(lambda: services.deactivate(db.session, user, actor=current_user))
    services.announce_sessions_ended(user.id)
    return staff_json(user)


@api.post("/staff/<int:user_id>/reactivate")
@roles_required(Role.ADMIN)
def api_reactivate_staff(user_id: int):
    user = _user(user_id)
    _apply(lambda: services.reactivate(db.session, user, actor=current_user))
    return staff_json(user)


@api.post("/staff/<int:user_id>/reset-password")
@roles_required(Role.ADMIN)
def api_reset_password(user_id: int):
    user = _user(user_id)
    link = _apply(lambda: services.reset_password(db.session, user, actor=current_user))
    services.announce_sessions_ended(user.id)
    return {"user": staff_json(user), "reset_url": link.url, "expires_at": link.record.expires_at.isoformat()}


@api.post("/staff/<int:user_id>/reset-2fa")
@roles_required(Role.ADMIN)
def api_reset_two_factor(user_id: int):
    user = _user(user_id)
    _apply(lambda: services.reset_two_factor(db.session, user, actor=current_user))
    services.announce_sessions_ended(user.id)
    return staff_json(user)


@api.put("/teams/<int:team_id>/members")
@roles_required(Role.ADMIN)
def api_set_team_members(team_id: int):
    team = db.session.get(Team, team_id) if 0 < team_id <= ID_MAX else None
    if team is None:
        raise ApiError(404, "Not Found", f"No team with id {team_id}.")
    data = json_body()
    ids = data.get("user_ids")
    if set(data) != {"user_ids"} or not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i <= ID_MAX for i in ids):
        raise unprocessable([("user_ids", "Send {\"user_ids\": [...]}: staff ids in alert order.")])
    _apply(lambda: services.set_team_members(db.session, team, ids, actor=current_user))
    return {"team_id": team.id, "user_ids": [m.user_id for m in sorted(team.members, key=lambda m: m.position)]}


@api.get("/tokens")
@login_required
def api_list_tokens():
    """My tokens; an admin sees everyone's (or one user's with user_id)."""
    args = read_page([{"name": "user_id", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                     "maximum": ID_MAX}}, *PAGE_PARAMETERS])
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    if not current_user.has_role(Role.ADMIN):
        query = query.where(ApiToken.user_id == current_user.id)
    elif "user_id" in args:
        query = query.where(ApiToken.user_id == args["user_id"])
    if "after" in args:
        query = query.where(ApiToken.id > args["after"])
    rows = list(db.session.scalars(query.order_by(ApiToken.id).limit(args["limit"] + 1)))
    return page(rows, args["limit"], services.token_json)


@api.delete("/tokens/<int:token_id>")
@login_required
def api_revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id) if 0 < token_id <= ID_MAX else None
    if token is None or not services.can_manage_token(current_user, token):
        raise ApiError(404, "Not Found", f"No token with id {token_id} of yours.")
    services.revoke(db.session, token, actor=current_user)
    db.session.commit()
    return "", 204


# -- the published description ---------------------------------------------------------------

_ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}


def _path(name):
    return {"name": name, "in": "path", "required": True, "schema": _ID}


def _json(schema):
    return {"application/json": {"schema": schema}}


def _paged(ref):
    return {"type": "object", "required": ["items", "has_more", "next_after"], "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
        "has_more": {"type": "boolean"}, "next_after": {"type": ["integer", "null"]},
        "next_cursor": {"type": ["string", "null"]}}}


_STAFF = {"$ref": "#/components/schemas/Staff"}
_STAFF_OK = {"200": {"description": "The member of staff", "content": _json(_STAFF)}}
_ADMIN_ERRORS = problem_responses(400, 401, 403, 404, 415, 422)


def _action(op_id, summary):
    return {"post": {"summary": summary + " (admins)", "operationId": op_id, "tags": ["staff"],
                     "parameters": [_path("user_id")],
                     "responses": {**_STAFF_OK, **problem_responses(401, 403, 404, 422)}}}


document(
    paths={
        "/staff": {
            "get": {"summary": "Staff accounts with search (admins)", "operationId": "listStaff", "tags": ["staff"],
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                                   *PAGE_PARAMETERS],
                    "responses": {"200": {"description": "A page of staff", "content": _json(_paged("Staff"))},
                                  **problem_responses(401, 403, 422)}},
            "post": {"summary": "Invite a member of staff: a one-time link (24 h) to choose a password (admins)",
                     "operationId": "inviteStaff", "tags": ["staff"],
                     "requestBody": {"required": True, "content": _json({
                         "type": "object", "additionalProperties": False, "required": ["email", "roles"],
                         "properties": {"email": {"type": "string", "maxLength": 254},
                                        "roles": {"type": "array", "items": {"enum": [r.value for r in Role]}},
                                        "name": {"type": ["string", "null"], "maxLength": 200},
                                        "phone": {"type": ["string", "null"], "maxLength": 30},
                                        "district_id": {"type": ["integer", "null"], "minimum": 1, "maximum": ID_MAX},
                                        "language": {"enum": ["sv", "en"]}, "send_sms": {"type": "boolean"}}})},
                     "responses": {"201": {"description": "Invited", "content": _json({
                         "type": "object", "required": ["user", "invite_url", "expires_at"],
                         "properties": {"user": _STAFF, "invite_url": {"type": "string"},
                                        "expires_at": {"type": "string"}}})}, **_ADMIN_ERRORS}},
        },
        "/staff/{user_id}": {"patch": {
            "summary": "Change roles, district, phone, language or name (admins)", "operationId": "updateStaff",
            "tags": ["staff"], "parameters": [_path("user_id")],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "additionalProperties": False,
                "properties": {"roles": {"type": "array", "items": {"enum": [r.value for r in Role]}},
                               "name": {"type": "string", "maxLength": 200},
                               "phone": {"type": ["string", "null"], "maxLength": 30},
                               "district_id": {"type": ["integer", "null"], "minimum": 1, "maximum": ID_MAX},
                               "language": {"enum": ["sv", "en"]}}})},
            "responses": {**_STAFF_OK, **_ADMIN_ERRORS}}},
        "/staff/{user_id}/deactivate": _action("deactivateStaff", "Deactivate: sessions, sockets and tokens end"),
        "/staff/{user_id}/reactivate": _action("reactivateStaff", "Reactivate"),
        "/staff/{user_id}/reset-2fa": _action("resetStaffTwoFactor", "Reset two-factor authentication"),
        "/staff/{user_id}/reset-password": {"post": {
            "summary": "Reset the password: a one-time link (24 h) (admins)", "operationId": "resetStaffPassword",
            "tags": ["staff"], "parameters": [_path("user_id")],
            "responses": {"200": {"description": "The link", "content": _json({
                "type": "object", "required": ["user", "reset_url", "expires_at"],
                "properties": {"user": _STAFF, "reset_url": {"type": "string"}, "expires_at": {"type": "string"}}})},
                **problem_responses(401, 403, 404, 422)}}},
        "/teams/{team_id}/members": {"put": {
            "summary": "A team's members in alert order (admins)", "operationId": "setTeamMembers",
            "tags": ["staff"], "parameters": [_path("team_id")],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "additionalProperties": False, "required": ["user_ids"],
                "properties": {"user_ids": {"type": "array", "items": _ID}}})},
            "responses": {"200": {"description": "The members", "content": _json({
                "type": "object", "properties": {"team_id": {"type": "integer"},
                                                 "user_ids": {"type": "array", "items": {"type": "integer"}}}})},
                **_ADMIN_ERRORS}}},
        "/tokens": {"get": {
            "summary": "API tokens: your own; admins see everyone's", "operationId": "listTokens", "tags": ["staff"],
            "parameters": [{"name": "user_id", "in": "query", "schema": _ID}, *PAGE_PARAMETERS],
            "responses": {"200": {"description": "A page of tokens", "content": _json(_paged("ApiToken"))},
                          **problem_responses(401, 422)}}},
        "/tokens/{token_id}": {"delete": {
            "summary": "Revoke a token (your own; admins any)", "operationId": "revokeToken", "tags": ["staff"],
            "parameters": [_path("token_id")],
            "responses": {"204": {"description": "Revoked"}, **problem_responses(401, 404)}}},
    },
    schemas={
        "Staff": {"type": "object", "required": ["id", "name", "email", "roles", "active"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
            "roles": {"type": "array", "items": {"enum": [r.value for r in Role]}},
            "district_id": {"type": ["integer", "null"]}, "language": {"type": "string"},
            "availability": {"type": "string"}, "phone": {"type": ["string", "null"]}, "active": {"type": "boolean"},
            "has_password": {"type": "boolean"}, "two_factor": {"type": "boolean"}}},
        "ApiToken": {"type": "object", "required": ["id", "user_id", "name", "created_at", "expires_at"],
                     "properties": {
                         "id": {"type": "integer"}, "user_id": {"type": "integer"}, "name": {"type": "string"},
                         "prefix": {"type": "string"}, "created_at": {"type": "string"},
                         "last_used_at": {"type": ["string", "null"]}, "expires_at": {"type": ["string", "null"]},
                         "revoked_at": {"type": ["string", "null"]}, "active": {"type": "boolean"}}},
    },
)
