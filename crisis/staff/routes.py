"""Staff administration pages (admins), one-time link pages, and each user's own account page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from sqlalchemy import select

from crisis.auth.models import ApiToken, Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.auth.services import AccountError
from crisis.core.db import db
from crisis.core.extensions import limiter
from crisis.core.navigation import add_nav_item
from crisis.organisation.models import District, Team
from crisis.staff import services

bp = Blueprint("staff", __name__, template_folder="templates")

add_nav_item("staff.staff_list", _l("Staff"), [Role.ADMIN], order=80)
add_nav_item("staff.account", _l("My account"), list(Role), order=94)

ROLE_CHOICES = [r.value for r in Role]


def _error(error: Exception) -> str:
    """A service error in the reader's language (the services raise lazy strings)."""
    return str(error)


def _staff(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _districts():
    return db.session.scalars(select(District).order_by(District.name)).all()


def _opted_out(user: User) -> bool:
    from crisis.messaging.services import is_opted_out

    return is_opted_out(db.session, user.phone)


# -- admin: staff list, invite, edit -------------------------------------------------------


@bp.get("/admin/staff")
@roles_required(Role.ADMIN)
def staff_list():
    q = (request.args.get("q") or "").strip()[:100]
    users = services.search_staff(db.session, q or None)
    return render_template("staff/list.html", users=users, q=q)


@bp.route("/admin/staff/invite", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def invite():
    values = {"email": "", "name": "", "phone": "", "district": "", "roles": ["outreach"], "language": "sv",
              "sms": False}
    status = 200
    if request.method == "POST":
        values = {"email": request.form.get("email", ""), "name": request.form.get("name", ""),
                  "phone": request.form.get("phone", ""), "district": request.form.get("district", ""),
                  "roles": request.form.getlist("roles"), "language": request.form.get("language", "sv"),
                  "sms": bool(request.form.get("sms"))}
        try:
            user, link = services.invite_user(
                db.session, actor=current_user, email=values["email"], roles=values["roles"],
                name=values["name"] or None, phone=values["phone"] or None, district=values["district"] or None,
                language=values["language"], send_sms=values["sms"])
        except AccountError as error:
            db.session.rollback()
            flash(_error(error), "error")
            status = 422
        else:
            db.session.commit()
            return render_template("staff/link_issued.html", user=user, link=link.url, purpose="invite",
                                   sent_by_sms=values["sms"])
    return render_template("staff/invite.html", values=values, districts=_districts(),
                           roles=ROLE_CHOICES), status


@bp.route("/admin/staff/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(user_id: int):
    user = _staff(user_id)
    status = 200
    if request.method == "POST":
        try:
            changed = services.update_user(
                db.session, user, actor=current_user, roles=request.form.getlist("roles"),
                district=request.form.get("district") or None, phone=request.form.get("phone") or None,
                language=request.form.get("language") or None, name=request.form.get("name"))
        except AccountError as error:
            db.session.rollback()
            flash(_error(error), "error")
            status = 422
        else:
            db.session.commit()
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("staff.edit", user_id=user.id))
    tokens = services.tokens_of(db.session, user)
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    member_of = [t for t in teams if any(m.user_id == user.id for m in t.members)]
    return render_template("staff/edit.html", user=user, districts=_districts(), roles=ROLE_CHOICES,
                           tokens=tokens, member_of=member_of, opted_out=_opted_out(user)), status


def _admin_action(user_id: int, action, done: str, *, end_sockets: bool = False):
    """Run `action(user)` and commit; refused: (redirect, None). `end_sockets` closes the user's
    live sockets once the change (which ended their sessions) is committed."""
    user = _staff(user_id)
    try:
        result = action(user)
    except AccountError as error:
        db.session.rollback()
        flash(_error(error), "error")
        return redirect(url_for("staff.edit", user_id=user.id)), None
    db.session.commit()
    if end_sockets:
        services.announce_sessions_ended(user_id)
    flash(done, "success")
    return None, (user, result)


@bp.post("/admin/staff/<int:user_id>/deactivate")
@roles_required(Role.ADMIN)
def deactivate(user_id: int):
    refused, _done = _admin_action(user_id, lambda u: services.deactivate(db.session, u, actor=current_user),
                                   _("The account is deactivated; its sessions and tokens have ended."),
                                   end_sockets=True)
    return refused or redirect(url_for("staff.edit", user_id=user_id))


@bp.post("/admin/staff/<int:user_id>/reactivate")
@roles_required(Role.ADMIN)
def reactivate(user_id: int):
    refused, _done = _admin_action(user_id, lambda u: services.reactivate(db.session, u, actor=current_user),
                                   _("The account is active again."))
    return refused or redirect(url_for("staff.edit", user_id=user_id))


@bp.post("/admin/staff/<int:user_id>/reset-password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    refused, done = _admin_action(user_id, lambda u: services.reset_password(db.session, u, actor=current_user),
                                  _("The password is reset."), end_sockets=True)
    if refused is not None:
        return refused
    user, link = done
    return render_template("staff/link_issued.html", user=user, link=link.url, purpose="reset", sent_by_sms=False)


@bp.post("/admin/staff/<int:user_id>/reset-2fa")
@roles_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    refused, _done = _admin_action(user_id, lambda u: services.reset_two_factor(db.session, u, actor=current_user),
                                   _("Two-factor authentication is reset; they set it up at their next login."),
                                   end_sockets=True)
    return refused or redirect(url_for("staff.edit", user_id=user_id))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or not services.can_manage_token(current_user, token):
        abort(404)
    services.revoke(db.session, token, actor=current_user)
    db.session.commit()
    flash(_("The token is revoked."), "success")
    if token.user_id == current_user.id:
        return redirect(url_for("staff.account"))
    return redirect(url_for("staff.edit", user_id=token.user_id))


# -- one-time links (no login) ---------------------------------------------------------------


@bp.route("/account/link/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def use_link(token: str):
    link = services.find_link(db.session, token)
    state = services.link_state(link)
    if state != "valid":
        return render_template("staff/link_state.html", state=state), 410 if state in ("used", "expired") else 404
    status = 200
    if request.method == "POST":
        password, again = request.form.get("password", ""), request.form.get("password_again", "")
        if password != again:
            flash(_("The two passwords differ; type the same password twice."), "error")
            status = 422
        else:
            try:
                services.use_link(db.session, token, password)
            except AccountError as error:
                db.session.rollback()
                flash(_error(error), "error")
                status = 422
            else:
                db.session.commit()
                flash(_("Your password is set. Log in with your e-mail address and the new password."), "success")
                return redirect(url_for("auth.login"))
    return render_template("staff/set_password.html", link=link), status


# -- my account ----------------------------------------------------------------------------------


@bp.get("/account")
@login_required
def account():
    from crisis.oncall.calendar import feed_url

    return render_template("staff/account.html", tokens=services.tokens_of(db.session, current_user),
                           opted_out=_opted_out(current_user), feed_url=feed_url(current_user))


@bp.post("/account/password")
@login_required
@limiter.limit("10 per hour")
def change_password():
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    if new != again:
        flash(_("The two passwords differ; type the same password twice."), "error")
        return redirect(url_for("staff.account"))
    try:
        services.change_own_password(db.session, current_user, current=request.form.get("current_password", ""),
                                     new=new)
    except AccountError as error:
        db.session.rollback()
        flash(_error(error), "error")
        return redirect(url_for("staff.account"))
    db.session.commit()
    # Other sessions ended with the new password; this one continues under the new generation.
    _keep_this_session(current_user._get_current_object())
    flash(_("Your password is changed. You are signed out on every other device."), "success")
    return redirect(url_for("staff.account"))


def _keep_this_session(user: User) -> None:
    from crisis.auth.guards import AUTH_AT, SECOND_FACTOR, SEEN_AT
    from crisis.auth.sessions import SESSION_KEY, find_record

    # This browser's server-side record moves to the new generation; every other one stays ended.
    record = find_record(db.session, session.get(SESSION_KEY))
    if record is not None and record.user_id == user.id:
        record.generation = user.session_generation
        db.session.commit()

    kept = {k: session.get(k) for k in (AUTH_AT, SEEN_AT, SECOND_FACTOR)}
    login_user(user)
    session.update({k: v for k, v in kept.items() if v is not None})


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    user_id = current_user.id
    services.end_all_sessions(db.session, current_user, current_user)
    db.session.commit()
    services.announce_sessions_ended(user_id)
    session.clear()
    flash(_("You are signed out everywhere, on this device too."), "info")
    return redirect(url_for("home.index"))  # which sends to the login page
