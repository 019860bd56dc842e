"""The second login step, enrolment and the account's security page (on the auth blueprint).

Login becomes two steps for anyone enrolled or required to enrol
(crisis.auth.twofactor): the password step only remembers, for five
minutes, who is half-way in; the user is not logged in, so no page or API
answers them until the code is given (or, for a user who must have 2FA and
has none yet, until enrolment is finished). Wrong codes are limited per
address and per account, and five in a row send the user back to the
password.
"""

from __future__ import annotations

import logging
import time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from crisis.auth import sessions as records
from crisis.auth import twofactor
from crisis.auth.blueprint import bp
from crisis.auth.blueprint import safe_next as _safe_next
from crisis.auth.guards import SECOND_FACTOR, mark_logged_in
from crisis.auth.models import Role, User
from crisis.auth.permissions import login_required
from crisis.core.crypto import keyring
from crisis.core.db import db
from crisis.core.extensions import limiter
from crisis.core.navigation import add_nav_item

log = logging.getLogger(__name__)

PENDING = "_2fa_pending"  # {"uid", "gen", "exp", "next", "fails"}: password given, code not yet
ENROL_SECRET = "_2fa_enrol"  # the secret being set up, encrypted (the cookie is signed, not secret)
PENDING_SECONDS = 300
MAX_WRONG_CODES = 5

add_nav_item("auth.account_security", _l("Account security"), list(Role), order=95)


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])


# -- the pending login --------------------------------------------------------------


def start_session(user: User, method: str) -> None:
    """Log `user` in on a fresh session (a new session id: no fixation), keeping the language."""
    language = session.get("lang")
    records.end_by_key(db.session, session.get(records.PENDING_KEY), "logged_in", stage=records.PENDING)
    session.clear()
    if language:
        session["lang"] = language
    session.permanent = True
    login_user(user)
    mark_logged_in(method)
    # The server's record of this login (issue 14): logout and sign-out-everywhere end it for good.
    session[records.SESSION_KEY] = records.open_record(db.session, user)
    db.session.commit()


def after_password(user: User, next_url: str | None):
    """What follows a right password: the app, the code step, or enrolment."""
    if not twofactor.needs_second_step(user):
        start_session(user, "password")
        return redirect(_safe_next(next_url))
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session.permanent = True
    session[PENDING] = {"uid": user.id, "gen": user.session_generation, "exp": int(time.time()) + PENDING_SECONDS,
                        "next": _safe_next(next_url)}
    # Wrong codes are counted on the server, in this record (a replayed cookie does not reset them).
    session[records.PENDING_KEY] = records.open_record(db.session, user, stage=records.PENDING)
    db.session.commit()
    if twofactor.is_enrolled(user):
        return redirect(url_for("auth.verify_two_factor"))
    return redirect(url_for("auth.enrol_two_factor"))


def pending_user() -> User | None:
    """The user half-way through logging in, if the step is still open."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if pending.get("exp", 0) < time.time():
        session.pop(PENDING, None)
        return None
    user = db.session.get(User, pending.get("uid"))
    record = records.find_record(db.session, session.get(records.PENDING_KEY), stage=records.PENDING)
    if (user is None or not user.active or user.session_generation != pending.get("gen")
            or record is None or not records.is_current(record, user) or record.failed_codes >= MAX_WRONG_CODES):
        session.pop(PENDING, None)
        return None
    return user


def _pending_key() -> str:
    pending = session.get(PENDING)
    uid = pending.get("uid") if isinstance(pending, dict) else None
    if uid is None and current_user.is_authenticated:
        uid = current_user.id
    return f"2fa:user:{uid}"


def _restart(message: str):
    session.pop(PENDING, None)
    session.pop(ENROL_SECRET, None)
    flash(message, "info")
    return redirect(url_for("auth.login"))


def _wrong_code(form: CodeForm, template: str, **context):
    """Count a wrong code; after five the password is asked for again."""
    pending = session.get(PENDING)
    record = records.find_record(db.session, session.get(records.PENDING_KEY), stage=records.PENDING)
    if isinstance(pending, dict) and record is not None:
        fails = records.count_wrong_code(db.session, record)
        log.warning("two-factor: wrong code for user %s (%d in a row)", pending.get("uid"), fails)
        if fails >= MAX_WRONG_CODES:
            records.end_record(db.session, record, "wrong_codes")
            db.session.commit()
            return _restart(_("Too many wrong codes. Log in again."))
        db.session.commit()
    form.code.errors = [*form.code.errors, _("Wrong or already used code.")]
    return render_template(template, form=form, **context), 401


LIMITS = dict(methods=["POST"])


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit("20 per minute", **LIMITS)
@limiter.limit("5 per minute;20 per hour", key_func=_pending_key, **LIMITS)
def verify_two_factor():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    user = pending_user()
    if user is None:
        return _restart(_("Log in with your e-mail and password first."))
    if not twofactor.is_enrolled(user):
        return redirect(url_for("auth.enrol_two_factor"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/verify.html", form=form), 400 if request.method == "POST" else 200
    factor = twofactor.verify_second_factor(db.session, user, form.code.data)
    if factor is None:
        db.session.rollback()
        return _wrong_code(form, "auth/verify.html")
    db.session.commit()
    target = session[PENDING]["next"]
    start_session(user, factor.method)
    if factor.method == "recovery":
        left = twofactor.recovery_codes_left(db.session, user)
        flash(_("You logged in with a recovery code; %(n)d are left. Make new ones under Account security "
                "if you are running out.", n=left), "warning")
    return redirect(_safe_next(target))


def qr_svg(uri: str) -> Markup:
    """The key as a QR code, an inline SVG (issue 18): no image request and no inline style,
    so the CSP (img-src 'self', style-src 'self') allows it as it is."""
    import segno

    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                title=_("QR code with the key"))
    return Markup(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))


def _enrolment_secret() -> str:
    stored = session.get(ENROL_SECRET)
    if isinstance(stored, str):
        try:
            return keyring.decrypt(stored)
        except ValueError:
            pass
    secret = twofactor.new_secret()
    session[ENROL_SECRET] = keyring.encrypt(secret)
    return secret


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit("20 per minute", **LIMITS)
@limiter.limit("5 per minute;20 per hour", key_func=_pending_key, **LIMITS)
def enrol_two_factor():
    """Set up the authenticator app: during login (required roles) or from the account page."""
    user = current_user._get_current_object() if current_user.is_authenticated else pending_user()
    if user is None:
        return _restart(_("Log in with your e-mail and password first."))
    if twofactor.is_enrolled(user):
        return redirect(url_for("auth.account_security" if current_user.is_authenticated
                                else "auth.verify_two_factor"))
    secret = _enrolment_secret()
    form = CodeForm()
    uri = twofactor.provisioning_uri(user, secret)
    context = {"secret": twofactor.grouped(secret), "uri": uri, "qr_svg": qr_svg(uri),
               "required": twofactor.is_required_for(user)}
    if not form.validate_on_submit():
        return render_template("auth/enrol.html", form=form, **context), 400 if request.method == "POST" else 200
    try:
        codes = twofactor.confirm_enrolment(db.session, user, secret, form.code.data)
    except twofactor.TwoFactorError as error:
        db.session.rollback()
        if current_user.is_authenticated:
            form.code.errors = [*form.code.errors, str(error)]
            return render_template("auth/enrol.html", form=form, **context), 422
        return _wrong_code(form, "auth/enrol.html", **context)
    db.session.commit()
    if current_user.is_authenticated:
        session.pop(ENROL_SECRET, None)
        session[SECOND_FACTOR] = "totp"
        target = url_for("auth.account_security")
    else:
        target = session[PENDING]["next"]
        start_session(user, "totp")
    return render_template("auth/recovery_codes.html", codes=codes, next_url=_safe_next(target), enrolled=True)


# -- the account's security page ----------------------------------------------------------


@bp.get("/account/security")
@login_required
def account_security():
    return render_template(
        "auth/security.html", enrolled=twofactor.is_enrolled(current_user),
        required=twofactor.is_required_for(current_user),
        codes_left=twofactor.recovery_codes_left(db.session, current_user) if current_user.totp_secret else 0,
        form=CodeForm(formdata=None), second_factor=session.get(SECOND_FACTOR),
    )


def _confirmed_by_code(form: CodeForm) -> bool:
    """A change to the second factor needs a fresh code from the app (not a recovery code)."""
    return form.validate_on_submit() and twofactor.verify_totp(db.session, current_user, form.code.data)


@bp.post("/account/security/recovery-codes")
@login_required
@limiter.limit("5 per minute;20 per hour", key_func=_pending_key)
def regenerate_recovery_codes():
    form = CodeForm()
    if not twofactor.is_enrolled(current_user):
        flash(_("Set up two-factor authentication first."), "error")
        return redirect(url_for("auth.account_security"))
    if not _confirmed_by_code(form):
        db.session.rollback()
        flash(_("Wrong or already used code."), "error")
        return redirect(url_for("auth.account_security"))
    codes = twofactor.issue_recovery_codes(db.session, current_user)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("auth.account_security"),
                           enrolled=False)


@bp.post("/account/security/turn-off")
@login_required
@limiter.limit("5 per minute;20 per hour", key_func=_pending_key)
def turn_off_two_factor():
    form = CodeForm()
    if twofactor.is_required_for(current_user):
        flash(_("Your role needs two-factor authentication; it cannot be turned off."), "error")
        return redirect(url_for("auth.account_security"))
    if not twofactor.is_enrolled(current_user):
        return redirect(url_for("auth.account_security"))
    if not _confirmed_by_code(form):
        db.session.rollback()
        flash(_("Wrong or already used code."), "error")
        return redirect(url_for("auth.account_security"))
    user = current_user._get_current_object()
    twofactor.remove_two_factor(db.session, user, actor=user, reason="turned off by the user")
    db.session.commit()
    # remove_two_factor ended every session, this one too: log in again with the password alone.
    start_session(user, "password")
    flash(_("Two-factor authentication is turned off."), "success")
    return redirect(url_for("auth.account_security"))
