"""Access-log review (loggkontroll): who opened which relative's record and when; managers and admins."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from crisis.timeline.services import log_access
from tests.casefile.conftest import RELATIVE_NAME, RELATIVE_PHONE
from tests.conftest import login


def rows_of(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)


@pytest.mark.parametrize("role", ["coordinator", "outreach"])
def test_only_managers_and_admins_review_the_access_log(client, logged_in, role):
    logged_in(role)
    assert client.get("/access-log").status_code == 403
    assert client.get("/access-log.csv").status_code == 403


def test_the_access_log_needs_a_login(client):
    assert client.get("/access-log").status_code == 302


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_who_opened_which_record_and_when(client, logged_in, case, role):
    logged_in(role)
    response = client.get("/access-log")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    rows = rows_of(page)
    assert len(rows) == 2
    newest, oldest = rows  # newest first
    assert case.outsider.name in newest and case.relative.label in newest
    assert "Inte tilldelad" in newest and "Täcker upp för samordnaren i natt" in newest
    assert case.worker.name in oldest and "Tilldelad" in oldest and "Inte tilldelad" not in oldest
    assert case.incident.reference in newest
    assert "2 öppningar" in page and "1 av personal som inte var tilldelad" in page
    assert RELATIVE_NAME not in page and RELATIVE_PHONE not in page


def test_filter_by_user_incident_period_and_flag(client, session, logged_in, case, activate):
    logged_in("manager")
    other_incident = activate()
    other_relative = other_incident.relatives[0] if other_incident.relatives else None
    if other_relative is None:
        from crisis.incidents.services import add_relative

        other_relative = add_relative(session, other_incident, actor=case.coordinator, relation="sibling")
    old = log_access(session, user=case.worker, relative=other_relative, action="view", assigned=True)
    old.at = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)  # 11 March, 00:30 in Stockholm
    session.commit()

    by_user = rows_of(client.get("/access-log", query_string={"user_id": case.worker.id}).get_data(as_text=True))
    assert len(by_user) == 2 and all(case.worker.name in r for r in by_user)
    by_incident = client.get("/access-log", query_string={"incident": case.incident.reference.lower()})
    assert len(rows_of(by_incident.get_data(as_text=True))) == 2
    flagged = rows_of(client.get("/access-log", query_string={"flagged": "1"}).get_data(as_text=True))
    assert len(flagged) == 1 and case.outsider.name in flagged[0]
    # Days are Stockholm days: 23:30 UTC on 10 March is the 11th.
    on_the_11th = client.get("/access-log", query_string={"start": "2025-03-11", "end": "2025-03-11"})
    assert len(rows_of(on_the_11th.get_data(as_text=True))) == 1
    on_the_10th = client.get("/access-log", query_string={"start": "2025-03-10", "end": "2025-03-10"})
    assert rows_of(on_the_10th.get_data(as_text=True)) == []
    recent = client.get("/access-log", query_string={"start": (datetime.now(UTC) - timedelta(days=1)).date()})
    assert len(rows_of(recent.get_data(as_text=True))) == 2


def test_bad_filters_are_explained_and_widen_nothing(client, logged_in, case):
    logged_in("manager")
    response = client.get("/access-log", query_string={"incident": "NOPE1"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Ingen insats har referensen NOPE1." in page
    assert rows_of(page) == []  # an unknown reference must not show every incident
    response = client.get("/access-log", query_string={"start": "11/03/2025", "user_id": "x"})
    assert response.status_code == 422
    assert "Skriv datumet som ÅÅÅÅ-MM-DD." in response.get_data(as_text=True)
    assert client.get("/access-log.csv", query_string={"end": "nope"}).status_code == 400


def test_csv_export_of_the_access_log(client, logged_in, case):
    logged_in("admin")
    response = client.get("/access-log.csv", query_string={"incident": case.incident.reference})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert RELATIVE_NAME not in text and RELATIVE_PHONE not in text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 3
    flagged = [r for r in rows[1:] if r[8] == "ja"]
    assert len(flagged) == 1
    assert flagged[0][1] == case.outsider.name and flagged[0][3] == case.relative.label
    assert flagged[0][5] == case.incident.reference and flagged[0][7] == "Täcker upp för samordnaren i natt"
    assert flagged[0][6] == "öppnade akten"  # the action in words, not its code


def test_pages_of_a_hundred(client, session, logged_in, case):
    for _ in range(100):
        log_access(session, user=case.worker, relative=case.relative, action="view", assigned=True)
    session.commit()
    logged_in("manager")
    first = client.get("/access-log").get_data(as_text=True)
    assert len(rows_of(first)) == 100 and "Sida 1 av 2" in first
    second = client.get("/access-log", query_string={"page": 2}).get_data(as_text=True)
    assert len(rows_of(second)) == 2 and case.outsider.name in second  # the oldest come last


def test_only_log_reviewers_get_the_link_from_the_timeline_to_the_log(app, client, create_user, case):
    login(client, case.coordinator.email)
    path = f"/incidents/{case.incident.id}/timeline"
    assert "Åtkomstlogg för insatsen" not in client.get(path).get_data(as_text=True)
    manager_client = app.test_client()
    login(manager_client, create_user("manager").email)
    page = manager_client.get(path).get_data(as_text=True)
    assert f'href="/access-log?incident={case.incident.reference}"' in page
