"""Login, logout and the language switch."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from crisis.auth import sessions as records
from crisis.auth import throttle, twofactor_routes
from crisis.auth.blueprint import bp
from crisis.auth.blueprint import safe_next as _safe_next
from crisis.auth.forms import LoginForm
from crisis.auth.services import authenticate
from crisis.core.db import db
from crisis.core.extensions import limiter
from crisis.core.i18n import LANGUAGE_COOKIE, LANGUAGES
from crisis.core.signals import sessions_ended


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        # Progressive delays per account and address instead of an hour-long lock (issue 14):
        # while a wait runs, the password is not checked at all.
        wait = throttle.seconds_to_wait(db.session, form.email.data, request.remote_addr)
        if wait > 0:
            flash(_("Too many wrong passwords. Wait %(seconds)d seconds and try again.", seconds=wait), "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            db.session.rollback()
            throttle.record_failure(db.session, form.email.data, request.remote_addr)
            db.session.commit()
            flash(_("Wrong e-mail or password."), "error")
            return render_template("auth/login.html", form=form), 401
        throttle.record_success(db.session, form.email.data)
        db.session.commit()
        # Then the code step or enrolment for two-factor users (issue 9), else straight in.
        return twofactor_routes.after_password(user, request.args.get("next"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    user_id = current_user.id if current_user.is_authenticated else None
    # The server's record ends (issue 14): a copied cookie no longer works either.
    records.end_by_key(db.session, session.get(records.SESSION_KEY), "logout")
    records.end_by_key(db.session, session.get(records.PENDING_KEY), "logout", stage=records.PENDING)
    db.session.commit()
    logout_user()
    session.clear()
    if user_id is not None:
        sessions_ended.send(user_id, user_id=user_id)  # the live dashboard closes the sockets, in every process
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    response = redirect(_safe_next(request.form.get("next")))
    if code in LANGUAGES:
        session["lang"] = code
        # Also outside the session, so the login page after a logout keeps the language (issue 18).
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=request.is_secure, httponly=True)
    return response

