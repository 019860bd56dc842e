"""Pages for activating and running a response (coordinators) and reviewing it (managers)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import defer, joinedload, load_only

from crisis.auth.models import Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.core.db import db, utcnow
from crisis.core.forms import show_error
from crisis.core.navigation import add_nav_item
from crisis.core.security import is_background_copy
from crisis.incidents import access, labels, services
from crisis.incidents.forms import (
    ActivateForm,
    ConsentForm,
    ContactPersonForm,
    FactsForm,
    IncidentFilterForm,
    ReasonForm,
    ReferralForm,
    RelativeForm,
    WithdrawForm,
)
from crisis.incidents.models import AffectedPerson, Incident, Relative
from crisis.organisation.models import District, Team
from crisis.playbooks.engine import available_playbooks
from crisis.playbooks.models import PlaybookSnapshot
from crisis.referrals.labels import organisation_name
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.services import log_access

bp = Blueprint("incidents", __name__, template_folder="templates")
STOCKHOLM = ZoneInfo("Europe/Stockholm")

add_nav_item("incidents.list_incidents", _l("Incidents"), [Role.COORDINATOR, Role.MANAGER, Role.ADMIN], 10)
add_nav_item("incidents.activate", _l("Activate response"), [Role.COORDINATOR, Role.ADMIN], 5)


@bp.app_context_processor
def _labels():
    return {"labels": labels, "label": labels.label}


def lang() -> str:
    return str(get_locale() or "sv")


def get_incident_or_404(incident_id: int, query=None) -> Incident:
    """The incident, if the user may see it; `query` (with an :incident_id parameter) reads it
    with what a page needs of it."""
    return access.viewable_incident_or_404(db.session, current_user, incident_id, query)


def get_relative_or_404(relative_id: int) -> Relative:
    relative = db.session.get(Relative, relative_id)
    if relative is None:
        abort(404, _("No such relative."))
    if not access.can_view_incident(db.session, current_user, relative.incident):
        abort(403, _("You are not assigned to this incident."))
    return relative


def require_edit(incident: Incident) -> None:
    if not access.can_edit_incident(db.session, current_user, incident):
        abort(403, _("Only coordinators change the response."))


def refuse(form, error: services.IncidentError) -> None:
    """Undoes the failed change and shows its error once: next to the field it is about, or as a flash
    message when it is about no field."""
    db.session.rollback()
    show_error(form, error)


def relative_saved(relative_id: int, message: str):
    """Commits the change to a relative's record, says so and goes back to the record."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("incidents.show_relative", relative_id=relative_id))


# -- list -----------------------------------------------------------------------


LIST_PAGE_SIZE = 50


@bp.get("/incidents")
@roles_required(Role.COORDINATOR, Role.MANAGER, Role.ADMIN, Role.OUTREACH)
def list_incidents():
    form = IncidentFilterForm(request.args)
    districts = db.session.scalars(select(District).order_by(District.name)).all()
    form.district_id.choices = [(0, _("All districts"))] + [(d.id, d.name) for d in districts]
    form.type.choices = [("", _("All types"))] + labels.choices(labels.INCIDENT_TYPES)
    form.status.choices = [("", _("All statuses"))] + labels.choices(labels.INCIDENT_STATUSES)
    query = access.visible_incidents(current_user)
    if form.district_id.data:
        query = query.where(Incident.district_id == form.district_id.data)
    if form.type.data in labels.INCIDENT_TYPES:
        query = query.where(Incident.type == form.type.data)
    if form.status.data in labels.INCIDENT_STATUSES:
        query = query.where(Incident.status == form.status.data)
    for field, op in ((form.start, "ge"), (form.end, "lt")):
        if field.data:
            try:
                day = datetime.strptime(field.data, "%Y-%m-%d").date()
            except ValueError:
                field.errors = [_("Write the date as YYYY-MM-DD.")]
                continue
            moment = datetime.combine(day + timedelta(days=op == "lt"), time(), STOCKHOLM)
            query = query.where(Incident.activated_at >= moment if op == "ge" else Incident.activated_at < moment)
    total = db.session.scalar(select(func.count()).select_from(
        query.with_only_columns(Incident.id).order_by(None).subquery()))
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    # The columns a row shows, not the incidents: no encrypted place or police reference is
    # decrypted for a list that shows neither, and the district is named from the filter's list.
    incidents = db.session.execute(
        query.with_only_columns(*LIST_COLUMNS)
        .order_by(Incident.activated_at.desc(), Incident.id.desc())
        .limit(LIST_PAGE_SIZE).offset((page - 1) * LIST_PAGE_SIZE)
    ).all()
    counts = task_counts([i.id for i in incidents])
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("incidents/list.html", form=form, incidents=incidents,
                           tasks_column=tasks_column(incidents, counts),
                           district_names={d.id: d.name for d in districts},
                           page=page, pages=pages, total=total, filters=filters)


def tasks_column(incidents, counts: dict[int, dict[str, int]]) -> dict[int, tuple]:
    """Each row's tasks in words: (open, overdue or None, done). The sentences are translated once
    for the page; Markup(sentence % number) is what {{ _(sentence, n=number) }} writes for a
    number, without a copy of the template's context and an escaping pass for each of fifty rows."""
    open_, overdue, done = _("%(open)s open"), _("%(n)s overdue"), _("%(n)s done")
    column = {}
    for incident in incidents:
        c = counts.get(incident.id, NO_TASKS)
        column[incident.id] = (Markup(open_ % {"open": c["open"]}),
                               Markup(overdue % {"n": c["overdue"]}) if c["overdue"] else None,
                               Markup(done % {"n": c["done"]}))
    return column


NO_TASKS = {"open": 0, "overdue": 0, "done": 0}


LIST_COLUMNS = (Incident.id, Incident.reference, Incident.type, Incident.outcome, Incident.district_id,
                Incident.activated_at, Incident.status, Incident.withdrawn_at)


def task_counts(incident_ids: list[int]) -> dict[int, dict[str, int]]:
    """Open and overdue tasks per incident, in one query."""
    if not incident_ids:
        return {}
    rows = db.session.execute(TASK_COUNTS, {"ids": incident_ids, "now": utcnow()}).all()
    return {r[0]: {"open": int(r[1] or 0), "overdue": int(r[2] or 0), "done": int(r[3] or 0)} for r in rows}


_OPEN = Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED])
# Built once (a statement's cache key is worked out each time one is built).
TASK_COUNTS = select(
    Task.incident_id,
    func.sum(case((_OPEN, 1), else_=0)),
    func.sum(case((_OPEN & (Task.due_at < bindparam("now")), 1), else_=0)),
    func.sum(case((Task.status == TaskStatus.DONE, 1), else_=0)),
).where(Task.incident_id.in_(bindparam("ids", expanding=True))).group_by(Task.incident_id)


# -- activation -------------------------------------------------------------------


@bp.route("/incidents/new", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.ADMIN)
def activate():
    """Fill in, confirm, activate (issue 18): the confirmation shows the tasks, deadlines and team."""
    form = ActivateForm()
    districts = db.session.scalars(select(District).order_by(District.name)).all()
    form.district_id.choices = [(0, _("Choose…"))] + [(d.id, d.name) for d in districts]
    playbooks = available_playbooks()
    form.playbook_id.choices = [("", "")] + [(p.id, lang_text_of(p.content["title"])) for p in playbooks]
    if request.method == "GET":
        # Only the time and the coordinator's own district: everything else is a decision.
        form.occurred_at.data = utcnow().replace(second=0, microsecond=0)
        if current_user.district_id:
            form.district_id.data = current_user.district_id
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            chosen = choose_playbook(playbooks, form.playbook_id.data, form.type.data)
            if chosen is None:
                flash(_("No playbook applies to this type of incident."), "error")
            elif request.form.get("step") == "edit":
                status = 200  # back from the confirmation to change something
            elif form.confirmed.data != "yes":
                return render_confirmation(form, chosen)
            else:
                try:
                    incident = services.activate_incident(
                        db.session, actor=current_user, type=form.type.data,
                        occurred_at=form.occurred_at.data, district_id=form.district_id.data,
                        playbook_id=chosen.id, outcome=form.outcome.data,
                        threat_level=form.threat_level.data, police_reference=form.police_reference.data,
                        place=form.place.data, persons=form.persons.data,
                        death_at=form.death_at.data if form.outcome.data == "deceased" else None,
                    )
                except services.IncidentError as error:
                    refuse(form, error)
                else:
                    db.session.commit()
                    flash(_("Response %(ref)s activated.", ref=incident.reference), "success")
                    return redirect(url_for("incidents.show", incident_id=incident.id))
        form.confirmed.data = ""
    return render_template("incidents/activate.html", form=form, playbooks=playbooks), status


def lang_text_of(text: dict) -> str:
    return text.get(lang()) or text["sv"]


def choose_playbook(playbooks, playbook_id: str | None, incident_type: str):
    """The chosen playbook if it applies to the type, else the city's default for the type
    (its organisation file), else the first that applies."""
    from crisis.organisation.defaults import default_playbook_id

    chosen = next((p for p in playbooks if p.id == playbook_id), None)
    if chosen is None or incident_type not in chosen.content["applies_to"]:
        default_id = default_playbook_id(db.session, incident_type)
        chosen = next((p for p in playbooks if p.id == default_id), None)
    return chosen


def render_confirmation(form: ActivateForm, playbook):
    from crisis.incidents.preview import preview_activation

    district = db.session.get(District, form.district_id.data)
    if district is None:
        abort(422, _("No such district."))
    preview = preview_activation(
        db.session, playbook=playbook, district=district, type=form.type.data, outcome=form.outcome.data,
        threat_level=form.threat_level.data, occurred_at=form.occurred_at.data, now=utcnow(),
        persons=form.persons.data, death_at=form.death_at.data if form.outcome.data == "deceased" else None,
    )
    return render_template("incidents/activate_confirm.html", form=form, playbook=playbook,
                           district=district, preview=preview)


@bp.route("/incidents/<int:incident_id>/withdraw", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.ADMIN)
def withdraw(incident_id: int):
    """Withdraw an activation made by mistake, within 24 hours, with a reason (issue 18)."""
    from crisis.incidents.withdrawal import can_withdraw, withdraw_incident

    incident = get_incident_or_404(incident_id)
    require_edit(incident)
    form = WithdrawForm()
    status = 200
    if not can_withdraw(incident):
        flash(_("Only an activation less than 24 hours old can be withdrawn; close the response instead."),
              "error")
        return redirect(url_for("incidents.show", incident_id=incident.id))
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                cancelled = withdraw_incident(db.session, incident, actor=current_user, reason=form.reason.data)
            except services.IncidentError as error:
                refuse(form, error)
            else:
                db.session.commit()
                flash(_("Activation %(ref)s withdrawn: %(tasks)d tasks, %(followups)d follow-ups and "
                        "%(dispatches)d alerts cancelled. It stays in the timeline.",
                        ref=incident.reference, tasks=cancelled["tasks"], followups=cancelled["follow_ups"],
                        dispatches=cancelled["dispatches"]), "success")
                return redirect(url_for("incidents.show", incident_id=incident.id))
    return render_template("incidents/withdraw.html", incident=incident, form=form), status


# -- the incident page -------------------------------------------------------------


# The incident page's statements, built once: SQLAlchemy works out a statement's cache key
# each time one is built (a fraction of a millisecond for a join with options) and keeps it on
# a statement that is used again.
#
# The incident with what its head shows in one statement: its district (and the one whose SIG
# serves it), its coordinator's name (not the whole row, roles and all) and its playbook (not
# the playbook's source text, tens of kB a snapshot); not the encrypted place, never shown here.
INCIDENT_PAGE = select(Incident).where(Incident.id == bindparam("incident_id")).options(
    defer(Incident.place, raiseload=True),
    joinedload(Incident.district).joinedload(District.sig_served_by),
    joinedload(Incident.coordinator).load_only(User.name).lazyload(User.role_rows),
    joinedload(Incident.playbook_snapshot).load_only(
        PlaybookSnapshot.playbook_id, PlaybookSnapshot.version, PlaybookSnapshot.content, raiseload=True),
)
# Its relatives, without their names and notes (encrypted, not shown here); the phone number
# only to find those who replied STOP.
INCIDENT_RELATIVES = (
    select(Relative).where(Relative.incident_id == bindparam("incident_id")).order_by(Relative.id)
    .options(defer(Relative.name, raiseload=True), defer(Relative.notes, raiseload=True))
)
# What the page shows of a task, with its owner's name (not the owner's whole row, roles and
# all); its description, note, checklist and sources (encrypted or JSON) are for its own page.
INCIDENT_TASKS = (
    select(Task, User.name, Team.name).where(Task.incident_id == bindparam("incident_id"))
    .outerjoin(User, User.id == Task.owner_user_id).outerjoin(Team, Team.id == Task.owner_team_id)
    .options(load_only(Task.relative_id, Task.phase_id, Task.title, Task.status, Task.due_at, Task.due_anchor,
                       Task.owner_user_id, Task.owner_team_id, raiseload=True))
    .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
)
# The persons concerned to choose from, not their names (encrypted).
INCIDENT_PERSONS = (select(AffectedPerson.id, AffectedPerson.label)
                    .where(AffectedPerson.incident_id == bindparam("incident_id")).order_by(AffectedPerson.id))


@bp.get("/incidents/<int:incident_id>")
@login_required
def show(incident_id: int):
    incident = get_incident_or_404(incident_id, query=INCIDENT_PAGE)
    return render_incident(incident)


def render_incident(incident: Incident, *, facts_form=None, relative_form=None, status: int = 200):
    # The page lists the relatives anyway: loaded first, each task's relative is found among them
    # (the session's identity map) instead of being read again.
    ids = {"incident_id": incident.id}
    relatives = db.session.scalars(INCIDENT_RELATIVES, ids).all()
    rows = db.session.execute(INCIDENT_TASKS, ids).all()
    tasks = [task for task, _user, _team in rows]
    owners = {task.id: user if user is not None else team for task, user, team in rows}
    phases = incident.playbook_snapshot.content.get("phases", [])
    grouped = []
    for phase in phases:
        phase_tasks = [t for t in tasks if t.phase_id == phase["id"] and t.status != TaskStatus.CANCELLED]
        grouped.append({"id": phase["id"], "title": phase["title"], "tasks": phase_tasks,
                        "done": sum(t.status.is_closed for t in phase_tasks)})
    ad_hoc = [t for t in tasks if t.phase_id is None and t.status != TaskStatus.CANCELLED]
    if ad_hoc:
        grouped.append({"id": "ad-hoc", "title": {"sv": "Övriga uppgifter", "en": "Other tasks"},
                        "tasks": ad_hoc, "done": sum(t.status.is_closed for t in ad_hoc)})
    can_edit = access.can_edit_incident(db.session, current_user, incident)
    if can_edit and incident.withdrawn_at is None:  # the page shows its forms only then
        if facts_form is None:
            facts_form = FactsForm(obj=incident, formdata=None)
            facts_form.version.data = incident.version
            facts_form.threat_level.data = incident.threat_level.value
            facts_form.status.data = incident.status.value
        if relative_form is None:
            relative_form = RelativeForm(formdata=None)
        persons = db.session.execute(INCIDENT_PERSONS, ids).all()
        relative_form.person_id.choices = [(0, _("Not stated"))] + [(p.id, p.label) for p in persons]
    else:
        facts_form = relative_form = None
    from crisis.incidents.withdrawal import can_withdraw

    return render_template(
        "incidents/show.html", incident=incident, relatives=relatives, phases=grouped, owners=owners,
        now=utcnow(), can_edit=can_edit,
        facts_form=facts_form, relative_form=relative_form, opted_out=_opted_out_relatives(relatives),
        can_withdraw=can_edit and current_user.has_role(Role.COORDINATOR, Role.ADMIN) and can_withdraw(incident),
        add_another=request.args.get("add") == "another",
    ), status


def _opted_out_relatives(relatives) -> set[int]:
    """Relatives whose number replied STOP: no SMS reaches them (shown on the incident)."""
    from crisis.messaging.services import opted_out_numbers

    with_phone = [r for r in relatives if r.phone_digest]
    stopped = opted_out_numbers(db.session, (r.phone for r in with_phone))  # one query for all of them
    return {r.id for r in with_phone if r.phone in stopped}


@bp.post("/incidents/<int:incident_id>/facts")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def update_facts(incident_id: int):
    incident = get_incident_or_404(incident_id)
    require_edit(incident)
    form = FactsForm()
    if not form.validate_on_submit():
        return render_incident(incident, facts_form=form, status=422)
    try:
        services.update_incident(
            db.session, incident, actor=current_user, expected_version=int(form.version.data or 0),
            threat_level=form.threat_level.data, status=form.status.data, death_at=form.death_at.data,
            funeral_at=form.funeral_at.data, judgment_at=form.judgment_at.data,
        )
    except services.StaleVersion as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_incident(db.session.get(Incident, incident_id), status=409)
    except services.IncidentError as error:
        refuse(form, error)
        return render_incident(db.session.get(Incident, incident_id), facts_form=form, status=422)
    db.session.commit()
    flash(_("Facts saved; deadlines updated."), "success")
    return redirect(url_for("incidents.show", incident_id=incident.id))


@bp.post("/incidents/<int:incident_id>/relatives")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def add_relative(incident_id: int):
    incident = get_incident_or_404(incident_id)
    require_edit(incident)
    form = RelativeForm()
    form.person_id.choices = [(0, "")] + [(p.id, p.label) for p in incident.persons]
    if not form.validate_on_submit():
        return render_incident(incident, relative_form=form, status=422)
    try:
        relative = services.add_relative(
            db.session, incident, actor=current_user, relation=form.relation.data,
            is_child=form.is_child.data or None, age_band=form.age_band.data, gender=form.gender.data,
            name=form.name.data, phone=form.phone.data, language=form.language.data,
            interpreter_needed=form.interpreter_needed.data, preferred_channel=form.preferred_channel.data,
            protected_identity=form.protected_identity.data, person_id=form.person_id.data or None,
        )
    except services.IncidentError as error:
        refuse(form, error)
        return render_incident(db.session.get(Incident, incident_id), relative_form=form, status=422)
    db.session.commit()
    flash(_("%(label)s added.", label=relative.label), "success")
    if request.form.get("then") == "another":
        # Several relatives in a row without a round trip through each record (issue 18).
        return redirect(url_for("incidents.show", incident_id=incident.id, add="another") + "#add-relative")
    return redirect(url_for("incidents.show_relative", relative_id=relative.id))


# -- a relative's record ----------------------------------------------------------


@bp.route("/relatives/<int:relative_id>", methods=["GET", "POST"])
@login_required
def show_relative(relative_id: int):
    relative = get_relative_or_404(relative_id)
    if not access.can_see_relative_details(db.session, current_user, relative):
        abort(403, _("Only the relative's contact person, the incident's coordinator and assigned staff "
                     "may open this record."))
    reason = None
    if relative.protected_identity:
        # Skyddade personuppgifter: every opening is logged with a reason (docs/domain.md "Protected identity").
        reason_form = ReasonForm()
        if request.method == "POST" and reason_form.validate_on_submit():
            reason = remember_reason(relative.id, reason_form.reason.data)
        else:
            reason = remembered_reason(relative.id)
        if reason is None:
            return render_template("incidents/relative_reason.html", relative=relative, form=reason_form)
    # The phone fetching the record ahead for reading offline (docs/phone.md) is logged as a copy to it.
    action = "offline_copy" if is_background_copy() else "view"
    log_access(db.session, user=current_user, relative=relative, action=action, reason=reason,
               assigned=access.is_assigned(db.session, current_user, relative.incident_id))
    db.session.commit()
    return render_relative(relative)


REASON_VALID_FOR = timedelta(minutes=15)


def remember_reason(relative_id: int, reason: str) -> str:
    """A reason covers the next quarter of an hour of work on the same record; each view is still logged."""
    reasons = {k: v for k, v in session.get("access_reasons", {}).items()
               if v[1] > utcnow().timestamp()}
    reasons[str(relative_id)] = [reason, (utcnow() + REASON_VALID_FOR).timestamp()]
    session["access_reasons"] = reasons
    return reason


def remembered_reason(relative_id: int) -> str | None:
    entry = session.get("access_reasons", {}).get(str(relative_id))
    if entry and entry[1] > utcnow().timestamp():
        return entry[0]
    return None


def render_relative(relative: Relative, *, consent_form=None, contact_form=None, referral_form=None,
                    status: int = 200, reveal: bool = False):
    reveal_for_consent = reveal
    incident = relative.incident
    can_edit = access.can_edit_incident(db.session, current_user, incident)
    consent_form = consent_form or ConsentForm(formdata=None)
    contact_form = contact_form or ContactPersonForm(formdata=None)
    staff = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    case_workers = {p.case_worker_id for p in incident.persons if p.case_worker_id}
    contact_form.user_id.choices = [(0, _("None"))] + [
        (u.id, u.name) for u in staff if u.has_role(Role.OUTREACH, Role.COORDINATOR) and u.id not in case_workers
    ]
    contact_form.user_id.data = relative.contact_person_id or 0
    referral_form = referral_form or ReferralForm(formdata=None)
    organisations = db.session.scalars(
        select(SupportOrganisation).where(SupportOrganisation.active.is_(True)).order_by(SupportOrganisation.name)
    ).all()
    referral_form.organisation.choices = [(o.code, o.name) for o in organisations]
    referrals = db.session.scalars(
        select(Referral).where(Referral.relative_id == relative.id).order_by(Referral.referred_at)
    ).all()
    tasks = db.session.scalars(
        select(Task).where(Task.relative_id == relative.id, Task.status != TaskStatus.CANCELLED)
        .order_by(Task.due_at.is_(None), Task.due_at)
    ).all()
    # Organisations by their names, never their codes (crisis.core.labels).
    suggested = sorted({organisation_name(db.session, code)
                        for t in tasks for code in (t.suggested_referrals or [])})
    call_allowed = bool(relative.phone) and relative.consent.value == "given" and not relative.protected_identity
    open_tasks = [t for t in tasks if not t.status.is_closed]
    return render_template(
        "incidents/relative.html", relative=relative, incident=incident, can_edit=can_edit,
        consent_form=consent_form, contact_form=contact_form, referral_form=referral_form,
        referrals=referrals, tasks=tasks, suggested=suggested, now=utcnow(), call_allowed=call_allowed,
        teams=db.session.scalars(select(Team)).all(), next_task=open_tasks[0] if open_tasks else None,
        may_ask=may_ask_for_consent(relative, tasks), reveal_for_consent=reveal_for_consent,
    ), status


def may_ask_for_consent(relative: Relative, tasks: list[Task]) -> bool:
    """The person assigned to ask for consent may read the number to call and ask (issue 18).

    Assigned: the relative's contact person, or the owner of an open task with the relative
    (the consent task, or the visit a dispatch gave them). Everyone else sees the number only
    after consent (DESIGN.md: relatives are contacted only after consent).
    """
    if not relative.phone or relative.protected_identity or relative.consent.value != "unknown":
        return False
    if relative.incident.withdrawn_at is not None:
        return False
    if relative.contact_person_id == current_user.id:
        return True
    return any(t.owner_user_id == current_user.id and not t.status.is_closed for t in tasks)


@bp.post("/relatives/<int:relative_id>/consent-call")
@roles_required(Role.COORDINATOR, Role.OUTREACH, Role.ADMIN)
def consent_call(relative_id: int):
    """Show the number to the person asking for consent; the reading is logged with that purpose."""
    relative = get_relative_or_404(relative_id)
    if not access.can_see_relative_details(db.session, current_user, relative):
        abort(403)
    tasks = db.session.scalars(select(Task).where(Task.relative_id == relative.id)).all()
    if not may_ask_for_consent(relative, tasks):
        # Allowed to open the record, but not the one asking (or consent is decided): no number.
        # The record itself goes through its own page (reason and access log for a protected identity).
        flash(_("Only the person assigned to ask for consent may see the number before consent."), "error")
        return redirect(url_for("incidents.show_relative", relative_id=relative.id), 303)
    log_access(db.session, user=current_user, relative=relative, action="consent_call",
               reason=CONSENT_CALL_PURPOSE,
               assigned=access.is_assigned(db.session, current_user, relative.incident_id))
    db.session.commit()
    return render_relative(relative, reveal=True)


CONSENT_CALL_PURPOSE = "Ringa för att fråga om samtycke (call to ask for consent)"



@bp.post("/relatives/<int:relative_id>/consent")
@roles_required(Role.COORDINATOR, Role.OUTREACH, Role.ADMIN)
def record_consent(relative_id: int):
    relative = get_relative_or_404(relative_id)
    if not access.can_see_relative_details(db.session, current_user, relative):
        abort(403)
    form = ConsentForm()
    if not form.validate_on_submit():
        return render_relative(relative, consent_form=form, status=422)
    try:
        services.record_consent(
            db.session, relative, actor=current_user, state=form.state.data, scope=form.scope.data,
            decided_at=form.decided_at.data, method=form.method.data, given_by=form.given_by.data,
            note=form.note.data,
        )
    except services.IncidentError as error:
        refuse(form, error)
        return render_relative(db.session.get(Relative, relative_id), consent_form=form, status=422)
    return relative_saved(relative.id, _("Consent recorded."))


@bp.post("/relatives/<int:relative_id>/contact-person")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def set_contact_person(relative_id: int):
    relative = get_relative_or_404(relative_id)
    require_edit(relative.incident)
    form = ContactPersonForm()
    form.user_id.choices = [(0, "")] + [(u.id, u.name) for u in db.session.scalars(select(User))]
    if not form.validate_on_submit():
        return render_relative(relative, contact_form=form, status=422)
    try:
        services.set_contact_person(db.session, relative, actor=current_user, user_id=form.user_id.data or None)
    except services.IncidentError as error:
        refuse(form, error)
        return render_relative(db.session.get(Relative, relative_id), contact_form=form, status=422)
    return relative_saved(relative.id, _("Contact person saved."))


@bp.post("/relatives/<int:relative_id>/referrals")
@roles_required(Role.COORDINATOR, Role.OUTREACH, Role.ADMIN)
def refer(relative_id: int):
    relative = get_relative_or_404(relative_id)
    if not access.can_see_relative_details(db.session, current_user, relative):
        abort(403)
    form = ReferralForm()
    form.organisation.choices = [(o.code, o.name) for o in db.session.scalars(select(SupportOrganisation))]
    if not form.validate_on_submit():
        return render_relative(relative, referral_form=form, status=422)
    try:
        services.refer(db.session, relative, actor=current_user, organisation_code=form.organisation.data,
                       note=form.note.data)
    except services.IncidentError as error:
        refuse(form, error)
        return render_relative(db.session.get(Relative, relative_id), referral_form=form, status=422)
    return relative_saved(relative.id, _("Referral recorded."))


