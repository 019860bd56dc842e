"""Follow-up pages: "Uppföljningar denna vecka", one follow-up, outcome and new date.

The relative's page (crisis.incidents) includes `followups/_relative_schedule.html`
with a `relative`; the `followup_schedule` helper registered here gives it the rows.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crisis.auth.models import Role
from crisis.auth.permissions import login_required, roles_required
from crisis.core.db import db, utcnow
from crisis.core.forms import show_error
from crisis.core.holidays import holiday_name, local_date
from crisis.core.navigation import add_nav_item
from crisis.core.security import is_background_copy
from crisis.followups import forms as followup_forms
from crisis.followups.forms import OutcomeForm, RescheduleForm
from crisis.followups.models import FollowUp
from crisis.followups.services import (
    FollowUpError,
    Scope,
    Week,
    WeekError,
    can_view_follow_up,
    can_work_on,
    is_open,
    is_shifted,
    overdue_follow_ups,
    record_outcome,
    relative_follow_ups,
    reschedule,
    week_follow_ups,
)
from crisis.incidents.access import can_see_relative_details
from crisis.incidents.services import StaleVersion
from crisis.playbooks.durations import DurationError, parse_duration
from crisis.playbooks.render import describe_duration
from crisis.timeline.models import TimelineEvent
from crisis.timeline.services import log_access

bp = Blueprint("followups", __name__, template_folder="templates")

add_nav_item("followups.week", _l("Follow-ups this week"), [Role.OUTREACH, Role.COORDINATOR], 2)


# --- Template helpers (also used by the relative's page) ----------------------------


def _lang() -> str:
    return "en" if str(get_locale() or "sv") == "en" else "sv"


def offset_text(follow_up: FollowUp) -> str:
    """'1w' as '1 vecka' / '1 week' (the playbook's own wording)."""
    try:
        return describe_duration(parse_duration(follow_up.label), _lang())
    except DurationError:
        return follow_up.label


def relative_label(follow_up: FollowUp) -> str:
    """The relative's anonymous label, masked in lists for protected identity (docs/domain.md "Protected identity")."""
    relative = follow_up.relative
    if relative.protected_identity and not can_see_relative_details(db.session, current_user, relative):
        return _("Relative with protected identity")
    return relative.label


def day_off_reason(day: date) -> str | None:
    """Why `day` is not a working day: the holiday's (Swedish) name, Saturday or Sunday."""
    name = holiday_name(day)
    if name:
        return name
    if day.weekday() == 5:
        return _("Saturday")
    if day.weekday() == 6:
        return _("Sunday")
    return None


def shift_reason(follow_up: FollowUp) -> str | None:
    """Why a follow-up is not on the playbook's day: the holiday or weekend it moved off."""
    if not is_shifted(follow_up) or follow_up.planned_due_at is None:
        return None
    return day_off_reason(local_date(follow_up.planned_due_at))


def _may_work(follow_up: FollowUp) -> bool:
    return current_user.is_authenticated and is_open(follow_up) and can_work_on(db.session, current_user, follow_up)


def followup_schedule(relative) -> list[FollowUp]:
    return relative_follow_ups(db.session, relative)


@bp.app_context_processor
def _followup_helpers():
    return {
        "followup_schedule": followup_schedule,
        "followup_offset_text": offset_text,
        "followup_relative_label": relative_label,
        "followup_shift_reason": shift_reason,
        "followup_may_work": _may_work,
        "followup_is_open": is_open,
        "followup_labels": followup_forms,
        "followup_now": utcnow,
    }


# --- Week ---------------------------------------------------------------------------


def _requested_week() -> Week:
    text = request.args.get("week")
    if not text:
        return Week.containing(utcnow())
    try:
        return Week.parse(text)
    except WeekError:
        abort(400, _("The week must look like 2026-W25."))


def _requested_scope() -> Scope:
    default = Scope.COORDINATED if current_user.has_role(Role.COORDINATOR) else Scope.MINE
    try:
        return Scope(request.args.get("scope") or default)
    except ValueError:
        abort(400, _("Show either your own follow-ups or those of the incidents you coordinate."))


@bp.get("/followups/week")
@roles_required(Role.OUTREACH, Role.COORDINATOR, Role.ADMIN)
def week():
    now = utcnow()
    chosen = _requested_week()
    scope = _requested_scope()
    items = week_follow_ups(db.session, current_user, chosen, scope)
    current = Week.containing(now)
    # Open follow-ups from before this week stay in sight until they are done.
    overdue = overdue_follow_ups(db.session, current_user, chosen.starts_at, scope) if chosen == current else []
    days = []
    for day in chosen.days:
        due = [f for f in items if local_date(f.due_at) == day]
        days.append({"date": day, "title": format_date(day, "EEEE d MMMM"), "holiday": holiday_name(day),
                     "weekend": day.weekday() >= 5, "today": day == local_date(now), "items": due})
    return render_template(
        "followups/week.html", week=chosen, scope=scope, days=days, overdue=overdue, now=now,
        previous_week=chosen.shifted(-1), next_week=chosen.shifted(1), current_week=current,
        open_count=sum(1 for f in items if is_open(f)), Scope=Scope,
        is_coordinator=current_user.has_role(Role.COORDINATOR),
    )


# --- One follow-up ------------------------------------------------------------------


def get_follow_up_or_404(follow_up_id: int) -> FollowUp:
    # Ids are 32-bit on PostgreSQL: a larger number names no row (and must not reach the driver).
    follow_up = db.session.get(FollowUp, follow_up_id) if 0 < follow_up_id < 2**31 else None
    if follow_up is None:
        abort(404, _("No such follow-up."))
    if not can_view_follow_up(db.session, current_user, follow_up):
        abort(403, _("You are not assigned to this incident."))
    return follow_up


def render_follow_up(follow_up: FollowUp, *, outcome_form=None, reschedule_form=None, status: int = 200):
    relative = follow_up.relative
    sees_details = can_see_relative_details(db.session, current_user, relative)
    can_call = (sees_details and bool(relative.phone) and relative.consent.value == "given"
                and not relative.protected_identity)
    if can_call:
        # The page shows the relative's number: an opening of their record (logguppföljning).
        # Fetched ahead by the phone for reading offline (docs/phone.md): logged as a copy to it.
        action = "offline_copy" if is_background_copy() else "followup_view"
        log_access(db.session, user=current_user, relative=relative, action=action)
        db.session.commit()
    history = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.subject_type == "followup",
                                    TimelineEvent.subject_id == follow_up.id)
        .order_by(TimelineEvent.id)
    ).all()
    return render_template(
        "followups/show.html", follow_up=follow_up, relative=relative, incident=relative.incident,
        may_work=_may_work(follow_up), can_call=can_call, sees_details=sees_details, history=history,
        outcome_form=outcome_form, reschedule_form=reschedule_form, now=utcnow(),
        decline_reasons=followup_forms.DECLINE_REASONS, reschedule_reasons=followup_forms.RESCHEDULE_REASONS,
    ), status


@bp.get("/followups/<int:follow_up_id>")
@login_required
def show(follow_up_id: int):
    return render_follow_up(get_follow_up_or_404(follow_up_id))


def _safe_next(target: str | None, follow_up: FollowUp) -> str:
    """Back where the form was (the week, the relative's page); only local paths."""
    fallback = url_for("followups.show", follow_up_id=follow_up.id)
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def _working_follow_up(follow_up_id: int) -> FollowUp:
    follow_up = get_follow_up_or_404(follow_up_id)
    if not can_work_on(db.session, current_user, follow_up):
        abort(403, _("Only the owner, staff assigned to the incident and coordinators record follow-ups."))
    return follow_up


def _version(form) -> int | None:
    try:
        return int(form.version.data) if form.version.data else None
    except (TypeError, ValueError):
        return None


@bp.post("/followups/<int:follow_up_id>/outcome")
@login_required
def outcome(follow_up_id: int):
    follow_up = _working_follow_up(follow_up_id)
    form = OutcomeForm()
    if not form.validate_on_submit():
        flash(_("Choose an outcome."), "error")
        return render_follow_up(follow_up, outcome_form=form, status=422)
    try:
        result = record_outcome(
            db.session, follow_up, actor=current_user, outcome=form.outcome.data, note=form.note.data,
            channel=form.channel.data or None, decline_reason=form.decline_reason.data or None,
            expected_version=_version(form),
        )
    except StaleVersion as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_follow_up(db.session.get(FollowUp, follow_up_id), outcome_form=form, status=409)
    except FollowUpError as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_follow_up(db.session.get(FollowUp, follow_up_id), outcome_form=form, status=422)
    db.session.commit()
    if form.outcome.data == "not_reached":
        flash(_("Saved. A new attempt is planned for %(when)s.",
                when=format_date(local_date(follow_up.due_at), "EEEE d MMMM")), "success")
    elif form.outcome.data == "declined":
        flash(_("Saved. %(count)s remaining follow-ups were cancelled.", count=len(result.cancelled)), "success")
    else:
        flash(_("Saved."), "success")
    return redirect(_safe_next(form.next.data, follow_up))


@bp.post("/followups/<int:follow_up_id>/reschedule")
@login_required
def move(follow_up_id: int):
    follow_up = _working_follow_up(follow_up_id)
    form = RescheduleForm()
    if not form.validate_on_submit():
        if not form.due_at.errors:  # the date's own error is shown by the date
            flash(_("Give a new date and time, and say why."), "error")
        return render_follow_up(follow_up, reschedule_form=form, status=422)
    try:
        reschedule(db.session, follow_up, actor=current_user, due_at=form.due_at.data, reason=form.reason.data,
                   expected_version=_version(form))
    except StaleVersion as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_follow_up(db.session.get(FollowUp, follow_up_id), reschedule_form=form, status=409)
    except FollowUpError as error:
        db.session.rollback()
        show_error(form, error, fields=("due_at",))  # once: by the date when it is about the date
        return render_follow_up(db.session.get(FollowUp, follow_up_id), reschedule_form=form, status=422)
    db.session.commit()
    day: date = local_date(follow_up.due_at)
    reason = day_off_reason(day)
    if reason:
        flash(_("Moved. Note: %(day)s is not a working day (%(reason)s).",
                day=format_date(day, "EEEE d MMMM"), reason=reason), "warning")
    else:
        flash(_("Moved."), "success")
    return redirect(_safe_next(form.next.data, follow_up))
