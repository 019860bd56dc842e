"""API: the equity report as JSON (managers and admins), the same tables as the page.

A suppressed figure has `value: null` and says why in `suppressed`; the
hidden value is never sent.
"""

from __future__ import annotations

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.core.api import api
from crisis.core.apischema import ID_MAX, INVALID, read_query, unprocessable
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.reports import services
from crisis.reports.disclosure import THRESHOLD
from crisis.reports.figures import Shown, Unit

REPORT_PARAMETERS = [
    {"name": "start", "in": "query",
     "description": "First day of the period (Stockholm), YYYY-MM-DD. Default: a year before `end`.",
     "schema": {"type": "string", "format": "date", "maxLength": 10}},
    {"name": "end", "in": "query", "description": "Last day of the period (included), YYYY-MM-DD. Default: today.",
     "schema": {"type": "string", "format": "date", "maxLength": 10}},
    {"name": "district_id", "in": "query",
     "description": "The district the breakdown tables (gender, age band, child, language) are for; "
                    "the whole city when left out. The per-district tables always have every district.",
     "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}},
]


def table_json(table: services.Table) -> dict:
    return {
        "id": table.id,
        "title": str(table.title),
        "row_heading": str(table.row_heading),
        "columns": [{"key": c.key, "label": str(c.label), "group": str(c.group) if c.group else None}
                    for c in table.columns],
        "rows": [
            {"key": row.key, "label": str(row.label), "total": row.is_total,
             "figures": {c.key: f.as_json() for c, f in zip(table.columns, row.figures, strict=True)}}
            for row in table.rows
        ],
    }


def report_json(report: services.Report) -> dict:
    return {
        "period": {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()},
        "generated_at": report.generated_at.isoformat(),
        "district_id": report.scope.id if report.scope is not None else None,
        "threshold": THRESHOLD,
        "key_figures": [{"label": str(k.label), **k.figure.as_json()} for k in report.key_figures],
        "tables": [table_json(t) for t in report.tables],
    }


@api.get("/reports")
@roles_required(Role.MANAGER, Role.ADMIN)
def equity_report():
    args = read_query(REPORT_PARAMETERS)
    today = services.today_in_stockholm()
    try:
        period = services.Period.parse(args.get("start"), args.get("end"), today=today)
        report = services.build_report(db.session, period, scope_district_id=args.get("district_id"))
    except services.ReportError as error:
        raise unprocessable([(error.field, str(error))]) from None
    return report_json(report)


_FIGURE = {
    "type": "object", "required": ["value", "unit", "suppressed"],
    "properties": {
        "value": {"type": ["number", "null"],
                  "description": "null when suppressed; counts are whole numbers, the rest have one decimal"},
        "unit": {"enum": [u.value for u in Unit]},
        "suppressed": {"enum": [None, *(s.value for s in Shown if s != Shown.VALUE)],
                       "description": "small: a count of 1-4; complement: hidden so that a small count cannot "
                                      "be worked out from the totals; few_cases: a share or duration from fewer "
                                      "than 5 cases or from a hidden count; no_cases: nothing to compute from."},
    },
}

document(
    paths={"/reports": {"get": {
        "summary": "The equity report for a period", "operationId": "getEquityReport", "tags": ["reports"],
        "description": "Incidents by type and outcome; relatives reached and time to first contact (median, "
                       "90th percentile); dispatch acknowledgement time; follow-ups kept on time; practical help "
                       "done by the deadline: per district and city-wide, plus breakdowns by gender, age band, "
                       "child/adult and language. Counts of 1-4 and what could reveal them are suppressed. "
                       "Managers and admins.",
        "parameters": REPORT_PARAMETERS,
        "responses": {"200": {"description": "The report", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/EquityReport"}}}},
            **problem_responses(400, 401, 403), **INVALID},
    }}},
    schemas={
        "ReportFigure": _FIGURE,
        "ReportTable": {
            "type": "object", "required": ["id", "title", "row_heading", "columns", "rows"],
            "properties": {
                "id": {"enum": list(services.TABLE_IDS)},
                "title": {"type": "string"}, "row_heading": {"type": "string"},
                "columns": {"type": "array", "items": {
                    "type": "object", "required": ["key", "label", "group"],
                    "properties": {"key": {"type": "string"}, "label": {"type": "string"},
                                   "group": {"type": ["string", "null"]}}}},
                "rows": {"type": "array", "items": {
                    "type": "object", "required": ["key", "label", "total", "figures"],
                    "properties": {
                        "key": {"type": "string", "description": "district code, 'city', a breakdown value "
                                                                 "or 'total'"},
                        "label": {"type": "string"}, "total": {"type": "boolean"},
                        "figures": {"type": "object", "description": "by column key",
                                    "additionalProperties": {"$ref": "#/components/schemas/ReportFigure"}}}}},
            },
        },
        "EquityReport": {
            "type": "object", "required": ["period", "generated_at", "district_id", "threshold", "tables"],
            "properties": {
                "period": {"type": "object", "required": ["start", "end"], "properties": {
                    "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"}}},
                "generated_at": {"type": "string", "format": "date-time"},
                "district_id": {"type": ["integer", "null"]},
                "threshold": {"type": "integer", "description": "counts below this (except 0) are suppressed"},
                "key_figures": {"type": "array", "items": {"allOf": [
                    {"$ref": "#/components/schemas/ReportFigure"},
                    {"type": "object", "required": ["label"], "properties": {"label": {"type": "string"}}}]}},
                "tables": {"type": "array", "items": {"$ref": "#/components/schemas/ReportTable"}},
            },
        },
    },
)
