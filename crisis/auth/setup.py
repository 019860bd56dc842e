"""Flask-Login wiring: sessions by cookie, API calls by bearer token."""

from __future__ import annotations

from flask import g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l

from crisis.auth import guards
from crisis.auth import sessions as records
from crisis.auth.models import User
from crisis.auth.services import user_for_token
from crisis.core.api import ApiError, is_api_request
from crisis.core.db import db
from crisis.core.extensions import login_manager


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Log in to continue.")
    login_manager.session_protection = "basic"
    guards.init_session_guards(app)  # idle and absolute timeout, two-factor required by role

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        try:
            uid, generation = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        key = session.get(records.SESSION_KEY)
        checked = g.get("checked_session")
        if checked is not None and checked[0] is request._get_current_object() and checked[1] == key:
            # The session guard found this record open and current a moment ago, in this request.
            _request, _key, record, user = checked
            if user.id == uid and user.active and user.session_generation == generation:
                return user
            return None
        user = db.session.get(User, uid)
        if user is None or not user.active or user.session_generation != generation:
            return None
        # The server's record of the session must be open too (issue 14: logout ends it for good);
        # this covers Socket.IO, which bypasses the pages' before_request guard.
        record = records.find_record(db.session, key)
        if record is None or not records.is_current(record, user):
            return None
        return user

    @login_manager.request_loader
    def load_user_from_token(req) -> User | None:
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        # Guessing tokens is limited per address (issue 9, brute force).
        if guards.bearer_attempts_exhausted():
            guards.refuse_bearer_attempts()
        user = user_for_token(db.session, token.strip())
        if user is None:
            guards.record_bearer_failure()
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        if is_api_request():
            raise ApiError(401, "Unauthorized", "Log in, or send Authorization: Bearer <token>.")
        return redirect(url_for("auth.login", next=request.full_path))


def authenticated_by_token() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")
