"""A report table as CSV: what the page shows, suppression markers included.

Semicolon-separated UTF-8 with a byte-order mark, numbers in the user's
locale: what Excel set to Swedish opens without an import dialogue. The
file holds counts and figures only; no row stands for a person.
"""

from __future__ import annotations

import io

from flask import Response

from crisis.core import csvsafe
from crisis.reports.figures import display
from crisis.reports.services import Report, Table


def column_heading(column) -> str:
    return f"{column.group}: {column.label}" if column.group else str(column.label)


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csvsafe.writer(out)  # formulas neutralised (issue 14)
    writer.writerow([str(table.row_heading), *(column_heading(c) for c in table.columns)])
    for row in table.rows:
        writer.writerow([str(row.label), *(display(f) for f in row.figures)])
    return out.getvalue()


def csv_response(text: str, filename: str) -> Response:
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def table_filename(report: Report, table: Table) -> str:
    scope = f"-{report.scope.code}" if report.scope is not None and table.id in (
        "gender", "age_band", "child", "language") else ""
    return f"report-{table.id}{scope}-{report.period.start.isoformat()}-{report.period.end.isoformat()}.csv"
