"""The privacy page for managers: retention in force, and data-subject exports (registerutdrag).

A request from a relative for what is held about them (GDPR art. 15)
arrives by name or number: the manager finds the record here (numbers by
their digest, names by decrypting row by row), and downloads it as JSON.
Every match shown and every export is in the access log, so log reviews see
who looked for whom.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.auth.services import AccountError, normalise_phone
from crisis.core.db import db, utcnow
from crisis.core.navigation import add_nav_item
from crisis.incidents.access import is_assigned
from crisis.incidents.models import Incident, Relative
from crisis.retention import protected_export
from crisis.retention.models import ExportRequest
from crisis.retention.services import (
    RetentionError,
    RetentionPolicy,
    data_subject_export,
    find_relatives,
    incidents_to_anonymise,
)
from crisis.timeline.services import log_access

bp = Blueprint("retention", __name__, template_folder="templates")

# Managers answer for the register (personuppgiftsansvar is the board's; the manager acts for it).
EXPORT_ROLES = (Role.MANAGER, Role.ADMIN)
add_nav_item("retention.index", _l("Privacy"), EXPORT_ROLES, order=85)


class FindRelativeForm(FlaskForm):
    """Searched by POST (issue 14): a name or number never lands in a URL or the access log."""

    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=40)])
    reference = StringField(_l("Incident reference"), validators=[Optional(), Length(max=16)])
    name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])


class ExportForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(min=3, max=300)])


class ActionForm(FlaskForm):
    pass


def export_filename(relative: Relative) -> str:
    return f"registerutdrag-{relative.incident.reference}-{relative.id}.json"


def _search(form: FindRelativeForm) -> list[Relative] | None:
    if not any((form.phone.data, form.reference.data, form.name.data)):
        return None
    phone = None
    if form.phone.data:
        try:
            phone = normalise_phone(form.phone.data)
        except AccountError as error:
            form.phone.errors = [str(error)]
            return None
    relatives = find_relatives(db.session, phone=phone, reference=form.reference.data, name=form.name.data)
    for relative in relatives:
        # Being found in a search says the person is in the register: logged like an opening.
        log_access(db.session, user=current_user, relative=relative, action="found_in_search",
                   assigned=is_assigned(db.session, current_user, relative.incident_id))
    db.session.commit()
    return relatives


@bp.route("/privacy", methods=["GET", "POST"])
@roles_required(*EXPORT_ROLES)
def index():
    relatives: list[Relative] | None = None
    status = 200
    if request.method == "POST":
        form = FindRelativeForm()
        if form.validate_on_submit():
            relatives = _search(form)
        else:
            status = 400
    else:
        # Only an incident reference (not personal) may come in the address, e.g. after an export.
        form = FindRelativeForm(formdata=None, reference=request.args.get("reference", "")[:16])
        if form.reference.data:
            relatives = _search(form)
    policy = RetentionPolicy.from_config(current_app.config)
    now = utcnow()
    requests = db.session.scalars(
        select(ExportRequest).where(ExportRequest.status.in_(["pending", "approved"]))
        .order_by(ExportRequest.id)).all()
    return render_template(
        "retention/index.html", form=form, relatives=relatives, export_form=ExportForm(formdata=None),
        action_form=ActionForm(formdata=None), requests=requests,
        policy=policy, due=len(incidents_to_anonymise(db.session, policy, now, limit=10_000)),
        anonymised=db.session.scalar(select(func.count()).select_from(Incident)
                                     .where(Incident.anonymised_at.is_not(None))) or 0,
    ), status


def _json_download(data: dict, relative: Relative) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{export_filename(relative)}"',
    })


@bp.post("/privacy/relatives/<int:relative_id>/export")
@roles_required(*EXPORT_ROLES)
def export_relative(relative_id: int):
    relative = db.session.get(Relative, relative_id) if relative_id <= 2**31 - 1 else None
    if relative is None:
        abort(404, _("No such relative."))
    form = ExportForm()
    back = url_for("retention.index", reference=relative.incident.reference)
    if not form.validate_on_submit():
        flash(_("Say why the export is made (e.g. a request for a register extract)."), "error")
        return redirect(back)
    if relative.protected_identity:
        # Two people (issue 14): this is a request; a second manager or admin approves it.
        try:
            protected_export.request_export(db.session, relative, actor=current_user, reason=form.reason.data)
        except protected_export.ExportRefused as error:
            db.session.rollback()
            flash(str(error), "error")
            return redirect(back)
        db.session.commit()
        flash(_("Protected identity: the request is recorded and the incident's coordinator notified. "
                "A second manager or admin must approve it before you can download the extract."), "info")
        return redirect(url_for("retention.index"))
    try:
        data = data_subject_export(db.session, relative, actor=current_user, reason=form.reason.data)
    except RetentionError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(back)
    db.session.commit()
    return _json_download(data, relative)


def _request_or_404(request_id: int) -> ExportRequest:
    row = db.session.get(ExportRequest, request_id)
    if row is None:
        abort(404, _("No such request."))
    return row


@bp.post("/privacy/export-requests/<int:request_id>/approve")
@roles_required(*EXPORT_ROLES)
def approve_export_request(request_id: int):
    row = _request_or_404(request_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        protected_export.approve_export(db.session, row, actor=current_user)
    except protected_export.ExportRefused as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("retention.index")), 303
    db.session.commit()
    flash(_("Approved. The person who asked can now download the extract."), "success")
    return redirect(url_for("retention.index"))


@bp.post("/privacy/export-requests/<int:request_id>/download")
@roles_required(*EXPORT_ROLES)
def download_export_request(request_id: int):
    row = _request_or_404(request_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        data = protected_export.export_approved(db.session, row, actor=current_user)
    except (protected_export.ExportRefused, RetentionError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("retention.index")), 303
    db.session.commit()
    return _json_download(data, row.relative)
