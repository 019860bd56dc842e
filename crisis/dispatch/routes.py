"""Dispatch pages: the coordinator sends staff out; staff acknowledge from their phone."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.routing import BuildError

from crisis.auth.models import Availability, Role, User, UserRole
from crisis.auth.permissions import login_required, roles_required
from crisis.core.db import db
from crisis.core.extensions import csrf, limiter
from crisis.core.navigation import add_nav_item
from crisis.dispatch.forms import NONE, ConfirmForm, DispatchForm
from crisis.dispatch.models import Dispatch, DispatchAttempt, DispatchStatus
from crisis.dispatch.services import (
    AckOutcome,
    DispatchError,
    acknowledge_dispatch,
    can_acknowledge,
    can_view_dispatch,
    cancel_dispatch,
    dispatch_staff,
    dispatch_team,
    find_by_token,
)
from crisis.incidents.access import can_edit_incident
from crisis.incidents.models import Incident, IncidentStatus
from crisis.messaging.labels import status_label as sms_status_label
from crisis.messaging.services import sms_refusal_for_user
from crisis.organisation.models import Team
from crisis.push import services as push
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import TimelineEvent

bp = Blueprint("dispatch", __name__, template_folder="templates")

add_nav_item("dispatch.index", _l("Dispatches"),
             roles=[Role.COORDINATOR, Role.OUTREACH, Role.MANAGER, Role.ADMIN], order=30)

STATUS_LABELS = {
    DispatchStatus.PENDING: _l("Waiting to be acknowledged"),
    DispatchStatus.ACKNOWLEDGED: _l("Acknowledged"),
    DispatchStatus.EXHAUSTED: _l("Not acknowledged – coordinator told"),
    DispatchStatus.CANCELLED: _l("Cancelled"),
}
PURPOSE_LABELS = {"incident": _l("Incident"), "visit": _l("Visit")}
AVAILABILITY_LABELS = {
    Availability.AVAILABLE: _l("available"),
    Availability.BUSY: _l("busy"),
    Availability.OFF_DUTY: _l("off duty"),
}
NO_SMS_LABELS = {
    "no_number": _l("no mobile number"),
    "opted_out": _l("has opted out of SMS"),
    "inactive": _l("deactivated"),
}
OPEN = (DispatchStatus.PENDING, DispatchStatus.EXHAUSTED)


def incident_url(incident_id: int) -> str | None:
    """The incident's page, when the response pages are installed."""
    for endpoint in ("incidents.show", "incidents.detail"):
        try:
            return url_for(endpoint, incident_id=incident_id)
        except BuildError:
            continue
    return None


def _template_context(**context):
    return dict(status_labels=STATUS_LABELS, purpose_labels=PURPOSE_LABELS,
                availability_labels=AVAILABILITY_LABELS, no_sms_labels=NO_SMS_LABELS,
                incident_url=incident_url, sms_status_label=sms_status_label, **context)


# Built once (a statement's cache key is worked out each time one is built), with the names the
# panel shows of each dispatch's team and person in the same statement, not one statement each.
INCIDENT_DISPATCHES = (
    select(Dispatch).where(Dispatch.incident_id == bindparam("incident_id"))
    .options(joinedload(Dispatch.team).load_only(Team.name),
             joinedload(Dispatch.user).load_only(User.name).lazyload(User.role_rows))
    .order_by(Dispatch.status.not_in(OPEN), Dispatch.created_at.desc()).limit(bindparam("limit"))
)


def incident_dispatches(incident_id: int, limit: int = 20) -> list[Dispatch]:
    """An incident's dispatches for its page: open ones first, then the newest."""
    return list(db.session.scalars(INCIDENT_DISPATCHES, {"incident_id": incident_id, "limit": limit}))


@bp.app_context_processor
def _incident_page_helpers():
    # The incident page includes dispatch/_incident_panel.html, which lists these.
    return {"incident_dispatches": incident_dispatches, "dispatch_status_labels": STATUS_LABELS,
            "dispatch_purpose_labels": PURPOSE_LABELS}


def _visible_dispatches():
    query = select(Dispatch)
    if current_user.has_role(Role.ADMIN, Role.COORDINATOR, Role.MANAGER):
        return query
    mine = select(DispatchAttempt.dispatch_id).where(DispatchAttempt.user_id == current_user.id)
    return query.where(or_(Dispatch.id.in_(mine), Dispatch.user_id == current_user.id))


@bp.get("/dispatches")
@login_required
def index():
    visible = _visible_dispatches()
    open_dispatches = db.session.scalars(
        visible.where(Dispatch.status.in_(OPEN)).order_by(Dispatch.created_at.desc()).limit(200)
    ).all()
    closed = db.session.scalars(
        visible.where(Dispatch.status.not_in(OPEN)).order_by(Dispatch.created_at.desc()).limit(30)
    ).all()
    return render_template("dispatch/index.html", **_template_context(
        open_dispatches=open_dispatches, closed=closed,
        may_dispatch=current_user.has_role(Role.COORDINATOR, Role.ADMIN),
    ))


def _staff_choices(session) -> list[tuple[int, str]]:
    staff = session.scalars(
        select(User).join(UserRole)
        .where(User.active.is_(True), UserRole.role.in_([Role.OUTREACH, Role.COORDINATOR]))
        .order_by(User.name).distinct()
    ).all()
    choices = []
    for user in staff:
        notes = [str(AVAILABILITY_LABELS[user.availability])]
        refusal = sms_refusal_for_user(session, user)
        if refusal is not None:
            notes.append(str(NO_SMS_LABELS.get(refusal.reason, refusal.reason)))
        choices.append((user.id, f"{user.name} ({', '.join(notes)})"))
    return choices


def _team_choices(session, incident) -> list[tuple[int, str]]:
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    sig = incident.district.sig_district or incident.district
    # The SIG that serves the incident's district first (seed 003).
    teams = sorted(teams, key=lambda t: (t.district_id not in {incident.district_id, sig.id}, t.name))
    return [(t.id, f"{t.name} ({t.district.name}, {len(t.members)})") for t in teams]


def _task_choices(session, incident) -> list[tuple[int, str]]:
    from flask_babel import get_locale

    lang = str(get_locale() or "sv")
    tasks = session.scalars(
        select(Task).where(Task.incident_id == incident.id,
                           Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED]))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
    ).all()
    return [(t.id, t.title_in(lang) + (f" – {t.relative.label}" if t.relative else "")) for t in tasks]


@bp.route("/dispatches/new", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.ADMIN)
def new():
    incident_id = request.args.get("incident", type=int)
    if incident_id is None:
        incidents = db.session.scalars(
            select(Incident).where(Incident.status != IncidentStatus.CLOSED)
            .order_by(Incident.activated_at.desc()).limit(100)
        ).all()
        return render_template("dispatch/choose_incident.html", **_template_context(incidents=incidents))
    incident = db.session.get(Incident, incident_id) or abort(404)
    if not can_edit_incident(db.session, current_user, incident):
        abort(403)
    form = DispatchForm()
    form.team_id.choices = [(NONE, _("Choose a team"))] + _team_choices(db.session, incident)
    form.escalation_team_id.choices = [(NONE, _("No team: straight to the coordinator"))] + \
        _team_choices(db.session, incident)
    form.user_ids.choices = _staff_choices(db.session)
    form.task_id.choices = [(NONE, _("No task"))] + _task_choices(db.session, incident)
    if request.method == "GET" and request.args.get("task", type=int):
        form.purpose.data = "visit"
        form.task_id.data = request.args.get("task", type=int)
    status = 200
    if form.validate_on_submit():
        task = db.session.get(Task, form.task_id.data) if form.purpose.data == "visit" else None
        try:
            if form.target.data == "team":
                team = db.session.get(Team, form.team_id.data) or abort(400)
                dispatches = [dispatch_team(db.session, incident=incident, team=team, actor=current_user,
                                            purpose=form.purpose.data, task=task)]
            else:
                # One query for everyone named (a dispatch may name a hundred).
                found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(form.user_ids.data)))}
                users = [found.get(uid) for uid in form.user_ids.data]
                escalation_team = (db.session.get(Team, form.escalation_team_id.data)
                                   if form.escalation_team_id.data != NONE else None)
                dispatches = dispatch_staff(db.session, incident=incident, users=[u for u in users if u],
                                            actor=current_user, purpose=form.purpose.data, task=task,
                                            escalation_team=escalation_team)
        except DispatchError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            status = 400
        else:
            db.session.commit()
            refs = ", ".join(d.reference for d in dispatches)
            flash(_("Dispatched: %(refs)s. The SMS go out within seconds.", refs=refs), "success")
            if len(dispatches) == 1:
                return redirect(url_for("dispatch.show", dispatch_id=dispatches[0].id))
            return redirect(url_for("dispatch.index"))
    elif request.method == "POST":
        status = 400
    return render_template("dispatch/new.html", **_template_context(form=form, incident=incident)), status


def _load_visible(dispatch_id: int) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None or not can_view_dispatch(db.session, current_user, dispatch):
        abort(404)  # not 403: a dispatch number says nothing to someone not in it
    return dispatch


@bp.get("/dispatches/<int:dispatch_id>")
@login_required
def show(dispatch_id: int):
    dispatch = _load_visible(dispatch_id)
    events = db.session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.subject_type == "dispatch", TimelineEvent.subject_id == dispatch.id)
        .order_by(TimelineEvent.id)
    ).all()
    return render_template("dispatch/show.html", **_template_context(
        dispatch=dispatch, events=events, form=ConfirmForm(),
        may_acknowledge=dispatch.is_open and can_acknowledge(db.session, current_user, dispatch),
        may_cancel=dispatch.is_open and current_user.has_role(Role.COORDINATOR, Role.ADMIN),
    ))


@bp.post("/dispatches/<int:dispatch_id>/acknowledge")
@login_required
def acknowledge(dispatch_id: int):
    dispatch = _load_visible(dispatch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    via = "link" if request.form.get("via") == "link" else "app"
    outcome = acknowledge_dispatch(db.session, dispatch, user=current_user, via=via)
    db.session.commit()
    if outcome == AckOutcome.ACKNOWLEDGED:
        flash(_("Acknowledged. The coordinator can see that you are on your way."), "success")
    elif outcome == AckOutcome.ALREADY:
        flash(_("Already acknowledged."), "info")
    elif outcome == AckOutcome.CLOSED:
        flash(_("This dispatch has been cancelled."), "warning")
    else:
        abort(403)
    return redirect(url_for("dispatch.show", dispatch_id=dispatch.id))


@bp.post("/dispatches/<int:dispatch_id>/cancel")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def cancel(dispatch_id: int):
    dispatch = _load_visible(dispatch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if cancel_dispatch(db.session, dispatch, actor=current_user):
        db.session.commit()
        flash(_("The dispatch is cancelled; alerts not yet sent are withdrawn."), "success")
    else:
        db.session.rollback()
        flash(_("The dispatch was already closed."), "info")
    return redirect(url_for("dispatch.show", dispatch_id=dispatch.id))


@bp.get("/d/<token>")
@limiter.limit("30 per minute")  # token guessing (issue 9); a person opens a handful of alerts
@login_required
def by_link(token: str):
    """The link in the alert SMS: opening it only shows the dispatch.

    Acknowledging is a button (POST): phones and messaging apps open links
    to preview them, which must not acknowledge anything.
    """
    dispatch = find_by_token(db.session, token)
    if dispatch is None or not can_view_dispatch(db.session, current_user, dispatch):
        abort(404)
    return redirect(url_for("dispatch.show", dispatch_id=dispatch.id, via="link"))


@bp.post("/push/ack")
@csrf.exempt  # the service worker has no CSRF token; the single-use token in the push is the proof
@limiter.limit("30 per minute")  # token guessing, as for the SMS link
def push_ack():
    """"Kvittera – jag tar det" on a push notification (static/js/sw-push.js).

    No session is needed (the phone's may have expired): the body's token was in the push to
    this person about this dispatch, is used once and expires (crisis.push.services.find_ack).
    Answers JSON the service worker shows as a notification.
    """
    data = request.get_json(silent=True)
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        return jsonify(outcome="bad_request", detail="Send {\"token\": ...} from the push."), 400
    alert = push.find_ack(db.session, token)
    if alert is None or not push.use_ack_token(db.session, alert):
        db.session.rollback()
        return jsonify(outcome="unknown", detail="Unknown, used or expired token: open the alert instead."), 404
    dispatch = db.session.get(Dispatch, alert.dispatch_id)
    user = db.session.get(User, alert.user_id)
    if dispatch is None or user is None or not user.active:
        db.session.rollback()
        return jsonify(outcome="not_allowed"), 403
    outcome = acknowledge_dispatch(db.session, dispatch, user=user, via="push")
    db.session.commit()
    status = 403 if outcome == AckOutcome.NOT_ALLOWED else 200
    return jsonify(outcome=outcome.value, ref=dispatch.reference), status
