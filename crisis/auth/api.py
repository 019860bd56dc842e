"""API: who am I, and the CSRF rule for browser calls to the API."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from crisis.auth.models import Availability, Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.auth.services import set_availability
from crisis.auth.setup import authenticated_by_token
from crisis.core.api import ApiError, api, json_body
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import NEXT_CURSOR, page_from_request, page_of_query, paging_parameters


@api.before_request
def _csrf_for_cookie_sessions():
    """A browser calling the API with its session cookie must send X-CSRFToken."""
    if request.method in ("GET", "HEAD", "OPTIONS") or authenticated_by_token():
        return
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except (CSRFError, ValidationError) as exc:
        raise ApiError(
            403, "Forbidden", "Missing or invalid X-CSRFToken header; or use a bearer token."
        ) from exc


def user_json(user) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "roles": sorted(r.value for r in user.roles),
        "district_id": user.district_id,
        "language": user.language,
        "availability": user.availability.value,
    }


@api.get("/me")
@login_required
def me():
    return user_json(current_user)


USERS_PAGE, USERS_MAX = 200, 500


@api.get("/users")
@roles_required(Role.ADMIN, Role.COORDINATOR)
def list_users():
    """Staff (admins manage them; coordinators pick owners and dispatch recipients)."""
    page = page_from_request(default=USERS_PAGE, maximum=USERS_MAX)
    users, next_cursor = page_of_query(db.session, select(User).order_by(User.name, User.id), page)
    return {"items": [user_json(u) for u in users], "next_cursor": next_cursor}


@api.post("/me/availability")
@login_required
def set_my_availability():
    data = json_body()
    try:
        availability = Availability(data.get("availability"))
    except ValueError:
        allowed = ", ".join(a.value for a in Availability)
        raise ApiError(422, "Unprocessable Content", f"availability must be one of: {allowed}.") from None
    set_availability(db.session, current_user, availability)
    db.session.commit()
    return user_json(current_user)


document(
    paths={
        "/me": {"get": {
            "summary": "The authenticated user", "operationId": "getMe", "tags": ["auth"],
            "responses": {"200": {"description": "The user", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/User"}}}}, **problem_responses(401)},
        }},
        "/me/availability": {"post": {
            "summary": "Set my availability", "operationId": "setMyAvailability", "tags": ["auth"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["availability"],
                "properties": {"availability": {"enum": [a.value for a in Availability]}}}}}},
            "responses": {"200": {"description": "The user", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/User"}}}},
                **problem_responses(400, 401, 403, 415, 422)},
        }},
        "/users": {"get": {
            "summary": "Staff accounts", "operationId": "listUsers", "tags": ["auth"],
            "parameters": paging_parameters(default=USERS_PAGE, maximum=USERS_MAX),
            "responses": {"200": {"description": "Staff", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"items": {"type": "array", "items": {
                    "$ref": "#/components/schemas/User"}}, "next_cursor": NEXT_CURSOR}}}}},
                **problem_responses(401, 403, 422)},
        }},
    },
    schemas={"User": {
        "type": "object",
        "required": ["id", "name", "email", "roles"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
            "roles": {"type": "array", "items": {"enum": [r.value for r in Role]}},
            "district_id": {"type": ["integer", "null"]}, "language": {"type": "string"},
            "availability": {"enum": [a.value for a in Availability]},
        },
    }},
)
