"""The team page and the dashboard's team panel show who is on call now and for 14 days."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crisis.core.db import utcnow
from crisis.oncall import services
from crisis.oncall.models import Rotation
from tests.conftest import csrf_token, login


def test_coordinator_saves_a_rota_and_sees_who_is_on_call(session, client, create_user, create_district,
                                                          create_team):
    a = create_user("outreach", name="Alva Jour")
    b = create_user("outreach", name="Bo Jour")
    team = create_team(create_district(), [a, b])
    coordinator = create_user("coordinator")
    assert login(client, coordinator.email).status_code == 302
    page = f"/teams/{team.id}"
    today = utcnow().astimezone(services.TZ).date()
    response = client.post(f"{page}/rota", data={
        "csrf_token": csrf_token(client, page), "starts_on": (today - timedelta(days=7)).isoformat(),
        "cycle_days": 1, "rota": f"day 1 00:00 - day 1 12:00 {a.email}\nday 1 12:00 - day 2 00:00 {b.email}"})
    assert response.status_code == 302
    html = client.get(page).get_data(as_text=True)
    now_local = utcnow().astimezone(services.TZ)
    expected = "Alva Jour" if now_local.hour < 12 else "Bo Jour"
    assert f"Jour nu:\n    <strong>{expected}</strong>" in html
    assert html.count("<li><span class=\"oncall-when\">") >= 28  # two shifts a day for 14 days
    panel = client.get("/dashboard/teams").get_data(as_text=True)
    assert f"Jour nu: <strong>{expected}</strong>" in panel and "Kommande 14 dagar" in panel


def test_a_rota_with_a_gap_is_refused_on_the_page_with_the_hours(session, client, create_user, create_district,
                                                                 create_team):
    a = create_user("outreach")
    team = create_team(create_district(), [a])
    assert login(client, create_user("coordinator").email).status_code == 302
    page = f"/teams/{team.id}"
    response = client.post(f"{page}/rota", data={
        "csrf_token": csrf_token(client, page), "starts_on": "2027-01-04", "cycle_days": 1,
        "rota": f"day 1 08:00 - day 1 20:00 {a.email}\nday 1 22:00 - day 2 08:00 {a.email}"})
    assert response.status_code == 422
    assert "lucka: ingen har jour från dag 1 20:00 till dag 1 22:00" in response.get_data(as_text=True)
    assert session.scalar(select(Rotation)) is None


def test_outreach_staff_see_their_own_team_only_and_cannot_edit_the_rota(session, client, create_user,
                                                                         create_district, create_team):
    me = create_user("outreach")
    mine = create_team(create_district(), [me])
    other = create_team(create_district(), [create_user("outreach")])
    assert login(client, me.email).status_code == 302
    assert client.get(f"/teams/{mine.id}").status_code == 200
    assert client.get(f"/teams/{other.id}").status_code == 403
    response = client.post(f"/teams/{mine.id}/rota", data={
        "csrf_token": csrf_token(client, f"/teams/{mine.id}"), "starts_on": "2027-01-04", "cycle_days": 1,
        "rota": f"day 1 08:00 - day 2 08:00 {me.email}"})
    assert response.status_code == 403


def test_a_rota_gap_is_named_in_english_to_an_english_reader(session, client, create_user, create_district,
                                                             create_team):
    a = create_user("outreach")
    team = create_team(create_district(), [a])
    coordinator = create_user("coordinator")
    coordinator.language = "en"
    session.commit()
    assert login(client, coordinator.email).status_code == 302
    page = f"/teams/{team.id}"
    response = client.post(f"{page}/rota", data={
        "csrf_token": csrf_token(client, page), "starts_on": "2027-01-04", "cycle_days": 1,
        "rota": f"day 1 08:00 - day 1 20:00 {a.email}\nday 1 22:00 - day 2 08:00 {a.email}"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "gap: nobody is on call from day 1 20:00 to day 1 22:00" in html and "lucka" not in html
    bad_time = client.post(f"{page}/rota", data={
        "csrf_token": csrf_token(client, page), "starts_on": "2027-01-04", "cycle_days": 1,
        "rota": f"day 1 08:00 - day 1 25:00 {a.email}"}).get_data(as_text=True)
    assert "line 1: &#39;day 1 25:00&#39; is not a time in the cycle" in bad_time and "rad 1" not in bad_time


def test_an_unknown_team_member_is_refused_in_swedish(session, client, create_user, create_district, create_team):
    team = create_team(create_district(), [create_user("outreach")])
    assert login(client, create_user("admin").email).status_code == 302
    page = f"/teams/{team.id}"
    response = client.post(f"{page}/members", data={"csrf_token": csrf_token(client, page),
                                                     "add_user_id": 987654})
    assert response.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "Det finns ingen personal med id 987654." in html and "No staff with id" not in html
