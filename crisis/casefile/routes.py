"""Pages for reviewing what happened: an incident's timeline (with CSV and PDF for a case
review) and the access-log review (loggkontroll) for managers and admins."""

from __future__ import annotations

import io
from datetime import date
from itertools import groupby

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer, joinedload

from crisis.auth.models import Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.casefile import queries
from crisis.casefile.pdf import CaseHeader, timeline_pdf
from crisis.core import csvsafe
from crisis.core.db import db, utcnow
from crisis.core.holidays import local_date
from crisis.core.navigation import add_nav_item
from crisis.incidents import access, labels
from crisis.incidents.models import Incident
from crisis.reports.export import csv_response

bp = Blueprint("casefile", __name__, template_folder="templates")

# Log review is a manager's duty (HSLF-FS 2016:40 4 kap. 9 §, as the city applies it to social services).
LOG_REVIEWERS = (Role.MANAGER, Role.ADMIN)
# A case file leaves the system with an export: those who run or review responses, not field staff.
EXPORTERS = (Role.COORDINATOR, Role.MANAGER, Role.ADMIN)
PAGE_SIZE = 100
# The incident timeline page, oldest first; the CSV and PDF exports stay whole (they are the case file).
TIMELINE_PAGE_SIZE = 100

add_nav_item("casefile.access_log", _l("Access log"), LOG_REVIEWERS, 65)


def language() -> str:
    return str(get_locale() or "sv")


@bp.app_template_global("word")
def word(group: str, code) -> str:
    """`{{ word("task_status", task.status) }}`: a code in words (crisis.core.labels), on any page."""
    from crisis.core.labels import label

    return label(group, code)


@bp.app_template_global("words")
def words(group: str, codes) -> str:
    from crisis.core.labels import labels

    return labels(group, codes)


@bp.app_template_filter("event_text")
def event_text(event) -> str:
    """`{{ event|event_text }}`: a timeline event's sentence in the reader's language, on any page."""
    from flask import g

    from crisis.eventtext.render import Names, render

    names = getattr(g, "_event_names", None)
    if names is None or names.language != language():
        names = g._event_names = Names(db.session, language())
    return render(event, names.language, db.session, names)


def visible_incident_or_404(incident_id: int, query=None) -> Incident:
    """The incident, if the user may see it; `query` (with an :incident_id parameter) reads it
    with what a page needs of it."""
    return access.viewable_incident_or_404(db.session, current_user, incident_id, query)


def may_review_access() -> bool:
    return current_user.has_role(*LOG_REVIEWERS)


def may_export() -> bool:
    return current_user.has_role(*EXPORTERS)


def selected_kinds() -> set[str] | None:
    """The kinds ticked in the filter; None when none are (everything)."""
    offered = set(queries.KINDS) if may_review_access() else set(queries.KINDS) - {queries.ACCESS}
    chosen = {k for k in request.args.getlist("kind") if k in offered}
    return chosen or None


def selection_text(kinds: set[str] | None) -> str:
    if kinds is None:
        return _("all entries")
    return ", ".join(queries.kind_label(k) for k in queries.KINDS if k in kinds)


def load_entries(incident: Incident, kinds: set[str] | None) -> list[queries.Entry]:
    return queries.timeline_entries(db.session, incident, kinds=kinds, include_access=may_review_access(),
                                     language=language())


def playbook_title(incident: Incident) -> str:
    """The playbook by its title in the reader's language (its id only if it has none)."""
    from crisis.core.i18n import lang_text

    snapshot = incident.playbook_snapshot
    title = (snapshot.content or {}).get("title")
    return lang_text(title, language()) if isinstance(title, dict) and title else snapshot.playbook_id


def incident_facts(incident: Incident) -> list[tuple[str, str]]:
    def when(value):
        return format_datetime(value, "short") if value else "–"

    facts = [
        (_("Type"), f"{labels.label(labels.INCIDENT_TYPES, incident.type)} · "
                    f"{labels.label(labels.OUTCOMES, incident.outcome)}"),
        (_("District"), incident.district.name),
        (_("Status"), labels.label(labels.INCIDENT_STATUSES, incident.status)),
        (_("Occurred"), when(incident.occurred_at)),
        (_("Activated"), when(incident.activated_at)),
        (_("Coordinator"), incident.coordinator.name if incident.coordinator else "–"),
        (_("Police reference"), incident.police_reference or "–"),
        (_("Playbook"), f"{playbook_title(incident)} v{incident.playbook_snapshot.version}"),
    ]
    if incident.closed_at:
        facts.append((_("Closed"), when(incident.closed_at)))
    return facts


# -- the incident timeline ------------------------------------------------------------------


# The timeline page names the incident's district (its first event does too), and shows neither
# its place nor its police reference: those stay encrypted (the exports' facts read them).
# Built once, as the timeline's other statements (crisis.casefile.queries).
TIMELINE_PAGE = select(Incident).where(Incident.id == bindparam("incident_id")).options(
    defer(Incident.place, raiseload=True), defer(Incident.police_reference, raiseload=True),
    joinedload(Incident.district))


@bp.get("/incidents/<int:incident_id>/timeline")
@login_required
def incident_timeline(incident_id: int):
    incident = visible_incident_or_404(incident_id, query=TIMELINE_PAGE)
    kinds = selected_kinds()
    page = _page()
    offset = (page - 1) * TIMELINE_PAGE_SIZE
    entries, total, flagged, counts = queries.timeline_page(
        db.session, incident, kinds=kinds, include_access=may_review_access(), language=language(),
        offset=offset, limit=TIMELINE_PAGE_SIZE)
    pages = max(1, -(-total // TIMELINE_PAGE_SIZE))
    if page > pages:
        # Past the end (the filter narrowed the list): the last page instead of an empty one.
        page = pages
        offset = (page - 1) * TIMELINE_PAGE_SIZE
        entries, total, flagged, counts = queries.timeline_page(
            db.session, incident, kinds=kinds, include_access=may_review_access(), language=language(),
            offset=offset, limit=TIMELINE_PAGE_SIZE)
    if counts is None:  # a filtered page counted only what it shows; the filter offers every kind
        counts = queries.kind_counts(db.session, incident, include_access=may_review_access())
    # Only the kinds this response has (and any ticked), so the filter stays short on a phone.
    offered = [k for k in queries.KINDS if (k != queries.ACCESS or may_review_access())
               and (counts.get(k) or (kinds and k in kinds))]
    days = [(format_date(day, "full"), list(items))
            for day, items in groupby(entries, key=lambda e: local_date(e.at))]
    query = {"kind": sorted(kinds)} if kinds else {}
    return render_template(
        "casefile/incident.html", incident=incident, days=days, entries=entries, kinds=kinds,
        offered=offered, counts=counts, kind_words={k: queries.kind_label(k) for k in queries.KINDS}, query=query,
        may_export=may_export(), may_review_access=may_review_access(), flagged=flagged,
        page=page, pages=pages, total=total, first=offset + 1, last=offset + len(entries),
    )


def timeline_filename(incident: Incident, extension: str) -> str:
    return f"timeline-{incident.reference}-{local_date(utcnow()).isoformat()}.{extension}"


@bp.get("/incidents/<int:incident_id>/timeline.csv")
@roles_required(*EXPORTERS)
def timeline_csv(incident_id: int):
    incident = visible_incident_or_404(incident_id)
    entries = load_entries(incident, selected_kinds())
    out = io.StringIO()
    writer = csvsafe.writer(out)  # formulas neutralised (issue 14)
    # The same sentences as the page and the PDF (crisis.eventtext.render); no codes.
    writer.writerow([_("Time (Stockholm)"), _("Kind"), _("Who"), _("What"), _("Concerns"),
                     _("Not assigned"), _("Reason given")])
    for entry in entries:
        writer.writerow([format_datetime(entry.at, "yyyy-MM-dd HH:mm:ss"), queries.kind_label(entry.kind),
                         entry.actor, entry.summary, entry.concerns,
                         _("yes") if entry.flagged else "", entry.reason or ""])
    return csv_response(out.getvalue(), timeline_filename(incident, "csv"))


@bp.get("/incidents/<int:incident_id>/timeline.pdf")
@roles_required(*EXPORTERS)
def timeline_pdf_export(incident_id: int):
    incident = visible_incident_or_404(incident_id)
    kinds = selected_kinds()
    entries = load_entries(incident, kinds)
    header = CaseHeader(reference=incident.reference, facts=incident_facts(incident),
                        generated_by=current_user.name, generated_at=utcnow(),
                        selection=selection_text(kinds), language=language())
    response = make_response(timeline_pdf(header, entries))
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{timeline_filename(incident, "pdf")}"'
    return response


# -- access-log review (loggkontroll) -------------------------------------------------------------


def read_access_filter() -> tuple[queries.AccessFilter, dict[str, str], dict[str, str]]:
    """The filter from the query string, the form's values and an error per bad field."""
    errors: dict[str, str] = {}
    form = {name: request.args.get(name, "").strip() for name in ("user_id", "incident", "start", "end")}
    form["flagged"] = "1" if request.args.get("flagged") in ("1", "on", "true") else ""
    user_id = None
    if form["user_id"]:
        try:
            user_id = int(form["user_id"])
        except ValueError:
            errors["user_id"] = _("No such staff member.")
        else:
            if db.session.get(User, user_id) is None:
                errors["user_id"] = _("No such staff member.")
                user_id = None
    incident_id = None
    if form["incident"]:
        incident = queries.incident_by_reference(db.session, form["incident"])
        if incident is None:
            errors["incident"] = _("No incident has the reference %(ref)s.", ref=form["incident"][:16])
        else:
            incident_id = incident.id
    days: dict[str, date | None] = {"start": None, "end": None}
    for name in days:
        if form[name]:
            try:
                days[name] = date.fromisoformat(form[name])
            except ValueError:
                errors[name] = _("Write the date as YYYY-MM-DD.")
    if days["start"] and days["end"] and days["end"] < days["start"]:
        errors["end"] = _("The end date is before the start date.")
        days["end"] = None
    filters = queries.AccessFilter(user_id=user_id, incident_id=incident_id, start=days["start"],
                                    end=days["end"], flagged_only=bool(form["flagged"]))
    if errors.get("incident"):
        # An unknown reference must not widen the search to every incident.
        filters = queries.AccessFilter(**{**filters.__dict__, "incident_id": -1})
    return filters, form, errors


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/access-log")
@roles_required(*LOG_REVIEWERS)
def access_log():
    filters, form, errors = read_access_filter()
    page = _page()
    total, flagged = queries.access_log_totals(db.session, filters)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = queries.access_log_rows(db.session, filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    query = {k: v for k, v in form.items() if v}
    return render_template(
        "casefile/access_log.html", rows=rows, form=form, errors=errors, total=total, flagged=flagged,
        page=page, pages=pages, query=query, users=queries.users_in_access_log(db.session),
    ), (422 if errors else 200)


@bp.get("/access-log.csv")
@roles_required(*LOG_REVIEWERS)
def access_log_csv():
    filters, _form, errors = read_access_filter()
    if errors:
        abort(400, " ".join(errors.values()))
    rows = queries.access_log_rows(db.session, filters, limit=None)
    out = io.StringIO()
    writer = csvsafe.writer(out)  # formulas neutralised (issue 14)
    writer.writerow([_("Time (Stockholm)"), _("Who"), _("Staff id"), _("Record"), _("Protected identity"),
                     _("Incident"), _("Action"), _("Reason given"), _("Not assigned when opened"),
                     _("Assigned now")])
    for row in rows:
        writer.writerow([format_datetime(row.at, "yyyy-MM-dd HH:mm:ss"), row.user_name, row.user_id or "",
                         row.relative_label, _("yes") if row.protected_identity else "", row.incident_reference,
                         word("access_action", row.action), row.reason or "", _("yes") if row.flagged else "",
                         _("yes") if row.assigned_now else ""])
    return csv_response(out.getvalue(), f"access-log-{local_date(utcnow()).isoformat()}.csv")

