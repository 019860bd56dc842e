"""Session policy and brute-force limits around authentication (issue 9).

- Sessions end after `SESSION_TIMEOUT_MINUTES` without a request (idle) and
  `SESSION_MAX_HOURS` after the login however busy (absolute), checked on the
  server from timestamps in the signed session, not left to cookie expiry.
- A session of a user who must use two-factor authentication but logged in
  without it (a role given after the login, a session from before 2FA was
  required) is ended: the user logs in again with the second step.
- Bearer tokens: an address that sends many wrong tokens is refused for a
  while (the login form and the 2FA step have their own limits).
- Cookies: HttpOnly, SameSite=Lax, and in production Secure with the
  `__Host-` prefix (no Domain, path /: no other host can set or read it).
"""

from __future__ import annotations

import time

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from limits import parse

from crisis.core.api import ApiError, is_api_request
from crisis.core.extensions import limiter

AUTH_AT = "auth_at"  # when the password (and second factor) were given
SEEN_AT = "seen_at"  # the last request of this session
SECOND_FACTOR = "mfa"  # "totp", "recovery" or "password" (no second factor)
WITH_SECOND_FACTOR = ("totp", "recovery")

#: Wrong bearer tokens one address may send before it is refused for a while.
BEARER_FAILURES = parse("30 per 10 minutes")

_UNGUARDED_ENDPOINTS = frozenset({"static", "healthz"})


def session_cookie_config(is_production: bool) -> dict:
    return {
        "SESSION_COOKIE_NAME": "__Host-crisis_session" if is_production else "crisis_session",
        "SESSION_COOKIE_HTTPONLY": True,
        # Lax, not Strict: the link in an alert SMS opens the app with the user's session.
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": is_production,
        "SESSION_COOKIE_PATH": "/",
        "SESSION_COOKIE_DOMAIN": None,
        "REMEMBER_COOKIE_SECURE": is_production,
        "REMEMBER_COOKIE_HTTPONLY": True,
    }


def mark_logged_in(method: str, now: float | None = None) -> None:
    """Stamp a fresh login into the session (after `login_user`)."""
    now = now or time.time()
    session[AUTH_AT] = int(now)
    session[SEEN_AT] = int(now)
    session[SECOND_FACTOR] = method


def end_session(message: str):
    """Log out now and send the user to the login page (pages) or answer 401 (API)."""
    language = session.get("lang")
    logout_user()
    session.clear()
    if language:
        session["lang"] = language
    if is_api_request():
        raise ApiError(401, "Unauthorized", message)
    flash(message, "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def session_problem(now: float, idle_seconds: float, max_seconds: float) -> str | None:
    """Why the logged-in session must end now, or None."""
    started, seen = session.get(AUTH_AT), session.get(SEEN_AT)
    if not isinstance(started, int) or not isinstance(seen, int):
        return _("Your session has ended. Log in again.")
    if now - started > max_seconds:
        return _("You have been logged in for a long time. Log in again.")
    if now - seen > idle_seconds:
        return _("You were logged out after a while without activity. Log in again.")
    return None


def server_record_problem(idle_seconds: float) -> str | None:
    """Why the server's record of this session refuses it (issue 14), or None; notes activity."""
    from datetime import timedelta

    from crisis.auth import sessions as records
    from crisis.core.db import db, utcnow

    record, user = records.find_record_with_user(db.session, session.get(records.SESSION_KEY))
    if record is None:
        return _("Your session has ended. Log in again.")
    now, idle = utcnow(), timedelta(seconds=idle_seconds)
    if not records.is_current(record, user):
        records.end_record(db.session, record, "generation")
        db.session.commit()
        return _("Your session has ended. Log in again.")
    if records.idle_for(record, now) > idle:
        records.end_record(db.session, record, "idle")
        db.session.commit()
        return _("You were logged out after a while without activity. Log in again.")
    before = record.last_seen_at
    records.touch(record, now, idle)
    if record.last_seen_at != before:
        db.session.commit()
    # The user loader asks the same of the same record in this request: it takes this answer
    # (and holds the rows: the session's identity map would let them go and load them again).
    g.checked_session = (request._get_current_object(), session.get(records.SESSION_KEY), record, user)
    return None


def init_session_guards(app: Flask) -> None:
    @app.before_request
    def _enforce_session_policy():
        if request.endpoint in _UNGUARDED_ENDPOINTS or "_user_id" not in session:
            return None
        now = time.time()
        idle = app.permanent_session_lifetime.total_seconds()
        longest = app.config.get("SESSION_MAX_HOURS", 12) * 3600
        problem = session_problem(now, idle, longest) or server_record_problem(idle)
        if problem is None and current_user.is_authenticated:
            from crisis.auth.twofactor import is_required_for

            if is_required_for(current_user) and session.get(SECOND_FACTOR) not in WITH_SECOND_FACTOR:
                problem = _("Your role needs two-factor authentication. Log in again to set it up.")
        if problem is not None:
            return end_session(problem)
        session[SEEN_AT] = int(now)
        return None


# -- bearer tokens --------------------------------------------------------------------


def _client_key() -> str:
    return request.remote_addr or "unknown"


def bearer_attempts_exhausted() -> bool:
    """True if this address sent too many wrong tokens lately (its tokens are not even checked)."""
    if not limiter.enabled:
        return False
    return not limiter.limiter.test(BEARER_FAILURES, "bearer-failures", _client_key())


def record_bearer_failure() -> None:
    if limiter.enabled:
        limiter.limiter.hit(BEARER_FAILURES, "bearer-failures", _client_key())


def refuse_bearer_attempts() -> None:
    raise ApiError(429, "Too Many Requests",
                   "Too many wrong bearer tokens from this address; wait ten minutes and check the token.")
