"""The report page, its CSV exports and its JSON: managers and admins only, and no person in them."""

from __future__ import annotations

import csv
import io
import re

import pytest

from crisis.auth.services import create_token
from crisis.reports.services import TABLE_IDS
from tests.reports.conftest import past_base, period_query


@pytest.fixture
def recent_city(build_city):
    return build_city(past_base())


def read_csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel needs the BOM to read UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


@pytest.mark.parametrize("path", ["/reports", "/reports/relatives.csv"])
@pytest.mark.parametrize("role", ["coordinator", "outreach"])
def test_only_managers_and_admins_see_reports(client, logged_in, path, role):
    logged_in(role)
    assert client.get(path).status_code == 403


def test_reports_need_a_login(client):
    response = client.get("/reports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_get_the_report(client, logged_in, recent_city, role):
    logged_in(role)
    response = client.get("/reports", query_string=period_query(recent_city))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Jämlikhetsrapport" in page
    assert "Alby" in page and "Bergby" in page and "Hela staden" in page
    assert "SIG från Alby" in page  # Bergby buys its SIG from Alby (seed 003)


def test_the_page_shows_the_known_figures_and_two_accessible_charts(client, logged_in, recent_city):
    logged_in("manager")
    page = client.get("/reports", query_string=period_query(recent_city)).get_data(as_text=True)
    charts = re.findall(r"<svg class=\"chart chart-wide\".*?</svg>", page, flags=re.S)
    assert len(charts) == 2
    assert len(re.findall(r"<svg class=\"chart chart-narrow\"", page)) == 2  # the same two, for phones
    first_contact, follow_ups = charts
    assert 'role="img"' in first_contact and "<title id=" in first_contact and "<desc id=" in first_contact
    assert "5,5 h" in first_contact and "7,0 h" in first_contact  # Alby, Bergby medians printed by the bars
    assert "Hela staden: 6,0 h" in first_contact
    assert "visas inte" not in first_contact and "inga fall" in first_contact  # Centrum has none
    assert "58,3 %" in follow_ups and "100,0 %" in follow_ups
    assert not re.search(r"\sstyle=", first_contact + follow_ups)  # the CSP allows no inline styles
    assert "<script" not in page.split("<main", 1)[1].split("</main>")[0]  # the charts need no script
    assert "Så räknas siffrorna" in page  # the definitions are on the page


def test_every_table_exports_as_csv_without_names_or_phone_numbers(client, logged_in, recent_city):
    manager = logged_in("manager")
    secrets = [r.name for r in recent_city.relatives] + [r.phone for r in recent_city.relatives]
    secrets += [recent_city.staff.name, manager.name]
    for table_id in TABLE_IDS:
        response = client.get(f"/reports/{table_id}.csv", query_string=period_query(recent_city))
        assert response.status_code == 200, table_id
        assert response.mimetype == "text/csv"
        assert f"report-{table_id}-" in response.headers["Content-Disposition"]
        text = response.get_data(as_text=True)
        assert not [s for s in secrets if s and s in text], table_id
        assert not re.findall(r"\+?46\d{6,}|07\d{7,}", text), table_id  # nothing like a phone number
        assert not re.findall(r"Anhörig \d", text), table_id  # nor a relative's label
    rows = read_csv(client.get("/reports/relatives.csv", query_string=period_query(recent_city)))
    assert rows[0][:3] == ["Stadsdel", "Anhöriga", "Nådda, antal"]
    alby = next(r for r in rows if r[0] == "Alby")
    assert alby[1:5] == ["15", "10", "5", "66,7 %"]


def test_the_page_names_nobody(client, logged_in, recent_city):
    logged_in("manager")
    page = client.get("/reports", query_string=period_query(recent_city)).get_data(as_text=True)
    for relative in recent_city.relatives:
        assert relative.name not in page and relative.phone not in page and relative.label not in page


def test_a_bad_period_is_explained_and_the_default_shown(client, logged_in):
    logged_in("manager")
    response = client.get("/reports", query_string={"start": "2026-02-30"})
    assert response.status_code == 422
    assert "Skriv datumet som ÅÅÅÅ-MM-DD." in response.get_data(as_text=True)
    response = client.get("/reports", query_string={"start": "2026-05-01", "end": "2026-04-01"})
    assert "Slutdatumet är före startdatumet." in response.get_data(as_text=True)
    assert client.get("/reports/relatives.csv", query_string={"end": "x"}).status_code == 400
    assert client.get("/reports/nonsense.csv").status_code == 404


def test_breakdowns_for_a_chosen_district(client, logged_in, recent_city):
    logged_in("manager")
    query = {**period_query(recent_city), "district_id": recent_city.districts["a"].id}
    page = client.get("/reports", query_string=query).get_data(as_text=True)
    assert "Uppdelningar: Alby" in page
    rows = read_csv(client.get("/reports/gender.csv", query_string=query))
    assert rows[-1][0] == "Alby" and rows[-1][1] == "15"
    assert client.get("/reports", query_string={"district_id": "abc"}).status_code == 422


# -- the JSON API --------------------------------------------------------------------------------


def bearer(session, user) -> dict:
    issued = create_token(session, user, "report tests")
    session.commit()
    return {"Authorization": f"Bearer {issued.token}"}


def test_the_api_gives_the_same_figures_with_suppressed_values_left_out(client, session, create_user,
                                                                        recent_city):
    headers = bearer(session, create_user("manager"))
    response = client.get("/api/v1/reports", query_string=period_query(recent_city), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["threshold"] == 5
    tables = {t["id"]: t for t in body["tables"]}
    assert list(tables) == list(TABLE_IDS)
    alby = next(r for r in tables["relatives"]["rows"] if r["key"] == "alby")
    assert alby["figures"]["first_contact_median"] == {"value": 5.5, "unit": "hours", "suppressed": None}
    assert alby["figures"]["reached_share"]["value"] == 66.7
    centrum = next(r for r in tables["relatives"]["rows"] if r["key"] == "centrum")
    assert centrum["figures"]["first_contact_median"] == {"value": None, "unit": "hours", "suppressed": "no_cases"}
    language = {r["key"]: r for r in tables["language"]["rows"]}
    assert language["sv"]["figures"]["relatives"]["value"] == 21
    text = response.get_data(as_text=True)
    assert not [r.name for r in recent_city.relatives if r.name in text]


def test_the_api_refuses_other_roles_and_bad_input(client, session, create_user):
    coordinator = bearer(session, create_user("coordinator"))
    response = client.get("/api/v1/reports", headers=coordinator)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert client.get("/api/v1/reports").status_code == 401
    manager = bearer(session, create_user("manager"))
    response = client.get("/api/v1/reports", query_string={"start": "yesterday"}, headers=manager)
    assert response.status_code == 422
    assert "YYYY-MM-DD" in response.json["detail"]
    response = client.get("/api/v1/reports", query_string={"district_id": 424242}, headers=manager)
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "district_id"


def test_the_api_is_documented(client):
    document = client.get("/api/v1/openapi.json").json
    assert "get" in document["paths"]["/reports"]
    assert "EquityReport" in document["components"]["schemas"]
