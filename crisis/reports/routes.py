"""The equity report page (managers and admins): every district on the same measures."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.core.db import db
from crisis.core.navigation import add_nav_item
from crisis.reports import services
from crisis.reports.charts import charts_for_page
from crisis.reports.disclosure import THRESHOLD
from crisis.reports.export import column_heading, csv_response, table_csv, table_filename
from crisis.reports.figures import display

bp = Blueprint("reports", __name__, template_folder="templates")

REVIEWERS = (Role.MANAGER, Role.ADMIN)
add_nav_item("reports.index", _l("Reports"), REVIEWERS, 60)


def error_text(error: services.ReportError) -> str:
    return {
        "bad_date": _("Write the date as YYYY-MM-DD."),
        "too_early": _("Choose a start date in 2000 or later."),
        "end_before_start": _("The end date is before the start date."),
        "too_long": _("The period is longer than ten years; choose a shorter one."),
        "no_district": _("No such district."),
    }[error.reason]


def _scope_id() -> int | None:
    raw = request.args.get("district_id", "").strip()
    if not raw or raw == "0":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1  # no district has it: reported as "No such district."


def read_report(today: date) -> tuple[services.Report, dict[str, str]]:
    """The report the query asks for; input that cannot be used falls back to the default
    period (or the whole city) and is reported per field."""
    errors: dict[str, str] = {}
    try:
        period = services.Period.parse(request.args.get("start"), request.args.get("end"), today=today)
    except services.ReportError as error:
        errors[error.field] = error_text(error)
        period = services.Period.last_twelve_months(today)
    try:
        report = services.build_report(db.session, period, scope_district_id=_scope_id())
    except services.ReportError as error:
        errors[error.field] = error_text(error)
        report = services.build_report(db.session, period)
    return report, errors


def period_shortcuts(today: date) -> list[tuple[str, services.Period]]:
    return [
        (_("Last 12 months"), services.Period.last_twelve_months(today)),
        (_("This year so far"), services.Period(date(today.year, 1, 1), today)),
        (str(today.year - 1), services.Period.calendar_year(today.year - 1)),
    ]


@bp.get("/reports")
@roles_required(*REVIEWERS)
def index():
    today = services.today_in_stockholm()
    report, errors = read_report(today)
    query = {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()}
    if report.scope is not None:
        query["district_id"] = report.scope.id
    return render_template(
        "reports/index.html", report=report, errors=errors, query=query, threshold=THRESHOLD,
        charts=[(chart, charts_for_page(chart)) for chart in report.charts], display=display,
        column_heading=column_heading, shortcuts=period_shortcuts(today),
        push_months=services.push_by_month(db.session, report.period),
        form={"start": request.args.get("start", query["start"]), "end": request.args.get("end", query["end"])},
    ), (200 if not errors else 422)


@bp.get("/reports/<table_id>.csv")
@roles_required(*REVIEWERS)
def export_table(table_id: str):
    if table_id not in services.TABLE_IDS:
        abort(404, _("No such table."))
    report, errors = read_report(services.today_in_stockholm())
    if errors:
        abort(400, " ".join(errors.values()))
    table = report.table(table_id)
    return csv_response(table_csv(table), table_filename(report, table))

