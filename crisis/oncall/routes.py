"""Team pages with the on-call rota (jour), overrides, members, and the calendar feed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crisis.auth.models import Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.core.db import db, utcnow
from crisis.core.extensions import limiter
from crisis.core.navigation import add_nav_item
from crisis.oncall import calendar, services
from crisis.oncall.models import Override
from crisis.oncall.services import OVERRIDE_REASONS, TZ, RotaError
from crisis.organisation.models import Team

bp = Blueprint("oncall", __name__, template_folder="templates")

add_nav_item("oncall.teams", _l("Teams and on-call"), [Role.COORDINATOR, Role.ADMIN, Role.MANAGER, Role.OUTREACH],
             order=30)

EDIT_ROLES = (Role.COORDINATOR, Role.ADMIN)


def _team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        abort(404)
    if not current_user.has_role(Role.COORDINATOR, Role.ADMIN, Role.MANAGER) and not any(
            m.user_id == current_user.id for m in team.members):
        abort(403)
    return team


def _visible_teams():
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    if current_user.has_role(Role.COORDINATOR, Role.ADMIN, Role.MANAGER):
        return teams
    return [t for t in teams if any(m.user_id == current_user.id for m in t.members)]


@bp.app_template_global()
def on_call_summary(team_id: int) -> dict | None:
    """For the dashboard's team panel: None for a team without rota or overrides."""
    team = db.session.get(Team, team_id)
    if team is None:
        return None
    now = utcnow()
    schedule = services.on_call_schedule(db.session, team, now, 14)
    if not schedule:
        return None
    return {"now": services.who_is_on_call(db.session, team, now), "schedule": schedule}


def opted_out_ids(users) -> set[int]:
    from crisis.messaging.services import sms_refusals_for_users

    refusals = sms_refusals_for_users(db.session, list(users))
    return {uid for uid, r in refusals.items() if r is not None and r.reason == "opted_out"}


@bp.get("/teams")
@login_required
def teams():
    now = utcnow()
    rows = [(t, services.who_is_on_call(db.session, t, now)) for t in _visible_teams()]
    return render_template("oncall/teams.html", rows=rows)


@bp.get("/teams/<int:team_id>")
@login_required
def team(team_id: int):
    return _render_team(_team(team_id))


def _render_team(team: Team, rota_text: str | None = None):
    now = utcnow()
    members = [m.user for m in team.members]
    overrides = db.session.scalars(select(Override).where(Override.team_id == team.id, Override.ends_at > now)
                                   .order_by(Override.starts_at)).all()
    rotation = services.rotation_of(db.session, team)
    staff = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all() \
        if current_user.has_role(*EDIT_ROLES) else []
    return render_template(
        "oncall/team.html", team=team, members=members, opted_out=opted_out_ids(members),
        on_call=services.who_is_on_call(db.session, team, now),
        schedule=services.on_call_schedule(db.session, team, now, 14), overrides=overrides,
        rotation=rotation, rota_text=rota_text if rota_text is not None else services.rota_text(rotation),
        may_edit=current_user.has_role(*EDIT_ROLES), is_admin=current_user.has_role(Role.ADMIN),
        staff=staff, reasons=OVERRIDE_REASONS, today=now.astimezone(TZ).date(),
    )


@bp.post("/teams/<int:team_id>/rota")
@roles_required(*EDIT_ROLES)
def save_rota(team_id: int):
    team = _team(team_id)
    text = request.form.get("rota", "")
    try:
        starts_on = date.fromisoformat(request.form.get("starts_on", ""))
        cycle_days = int(request.form.get("cycle_days", ""))
        if not 2000 <= starts_on.year <= 2100:
            raise ValueError(starts_on)
    except ValueError:
        flash(_("Give the first day of the rota as a date and the cycle length in days."), "error")
        return redirect(url_for("oncall.team", team_id=team.id))
    try:
        shifts = services.parse_rota_text(db.session, text)
        services.save_rotation(db.session, team, starts_on=starts_on, cycle_days=cycle_days, shifts=shifts,
                               actor=current_user)
    except RotaError as error:
        db.session.rollback()
        flash(_("The rota was not saved:") + " " + "; ".join(str(p) for p in error.problems), "error")
        return _render_team(team, text), 422
    db.session.commit()
    flash(_("The rota is saved."), "success")
    return redirect(url_for("oncall.team", team_id=team.id))


def _local(value: str) -> datetime:
    naive = datetime.fromisoformat(value)
    if not 2000 <= naive.year <= 2100:
        raise ValueError(value)
    if naive.tzinfo is not None:
        return naive
    return services.local_to_utc(naive)


@bp.post("/teams/<int:team_id>/overrides")
@roles_required(*EDIT_ROLES)
def add_override(team_id: int):
    team = _team(team_id)
    user = db.session.get(User, request.form.get("user_id", type=int) or 0)
    try:
        starts_at, ends_at = _local(request.form.get("starts_at", "")), _local(request.form.get("ends_at", ""))
    except ValueError:
        flash(_("Give the start and end as date and time."), "error")
        return redirect(url_for("oncall.team", team_id=team.id)), 303
    if user is None:
        flash(_("Choose who is on call."), "error")
        return redirect(url_for("oncall.team", team_id=team.id)), 303
    try:
        services.add_override(db.session, team, user=user, starts_at=starts_at, ends_at=ends_at,
                              reason=request.form.get("reason", "swap"), actor=current_user)
    except RotaError as error:
        db.session.rollback()
        flash(_("The change was not saved:") + " " + "; ".join(str(p) for p in error.problems), "error")
        return redirect(url_for("oncall.team", team_id=team.id)), 303
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("oncall.team", team_id=team.id)), 303


@bp.post("/teams/<int:team_id>/overrides/<int:override_id>/delete")
@roles_required(*EDIT_ROLES)
def delete_override(team_id: int, override_id: int):
    team = _team(team_id)
    override = db.session.get(Override, override_id)
    if override is None or override.team_id != team.id:
        abort(404)
    services.remove_override(db.session, override, actor=current_user)
    db.session.commit()
    flash(_("Removed."), "success")
    return redirect(url_for("oncall.team", team_id=team.id)), 303


@bp.post("/teams/<int:team_id>/members")
@roles_required(Role.ADMIN)
def set_members(team_id: int):
    from crisis.staff.services import StaffError, set_team_members

    team = _team(team_id)
    ranked = []
    for member in team.members:
        if request.form.get(f"remove_{member.user_id}"):
            continue
        position = request.form.get(f"position_{member.user_id}", type=int) or member.position
        ranked.append((position, member.position, member.user_id))
    new_id = request.form.get("add_user_id", type=int)
    if new_id and all(r[2] != new_id for r in ranked):
        ranked.append((request.form.get("add_position", type=int) or 10_000, 10_000, new_id))
    try:
        set_team_members(db.session, team, [uid for _p, _o, uid in sorted(ranked)], actor=current_user)
    except StaffError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(_("Saved."), "success")
    return redirect(url_for("oncall.team", team_id=team.id)), 303


# -- calendar feed --------------------------------------------------------------------------


@bp.get("/calendar/<token>.ics")
@limiter.limit("60 per hour")
def feed(token: str):
    user = calendar.user_for_feed(db.session, token)
    if user is None:
        abort(404)
    return Response(calendar.feed_ics(db.session, user), mimetype="text/calendar",
                    headers={"Cache-Control": "private, max-age=900"})


@bp.post("/account/calendar/new")
@login_required
def new_feed():
    calendar.new_feed(db.session, current_user)
    db.session.commit()
    flash(_("Your calendar address is ready; any earlier address has stopped working."), "success")
    return redirect(url_for("staff.account"))


@bp.post("/account/calendar/revoke")
@login_required
def revoke_feed():
    calendar.revoke_feed(db.session, current_user)
    db.session.commit()
    flash(_("The calendar address has stopped working."), "success")
    return redirect(url_for("staff.account"))


def schedule_days(start: datetime, days: int = 14) -> list[date]:
    local = start.astimezone(TZ).date()
    return [local + timedelta(days=i) for i in range(days)]
