"""The dashboard page (lägesbild) and the fragments live.js fetches."""

from __future__ import annotations

import re

from crisis.auth.models import Availability
from crisis.auth.services import set_availability
from crisis.timeline.services import record_event
from tests.conftest import csrf_token, login


def test_coordinator_sees_every_active_incident_teams_and_events(client, logged_in, create_incident, create_team,
                                                                 create_district, create_user, session):
    logged_in("coordinator")
    district = create_district(name="Rinkeby-Kista")
    member = create_user("outreach", name="Aida Uppsökare")
    create_team(district, [member], name="SIG Järva")
    incident = create_incident(district=district)
    closed = create_incident(status="closed")
    event = record_event(session, kind="incident", type="incident.updated", incident_id=incident.id,
                         summary=f"Incident {incident.reference} threat level raised",
                         data={"threat_level": {"before": "normal", "after": "high"}})
    session.commit()

    page = client.get("/dashboard").get_data(as_text=True)

    assert "Lägesbild" in page  # Swedish first
    assert f'id="incident-{incident.id}"' in page and incident.reference in page
    assert closed.reference not in page.split('id="live-feed"')[0]
    assert "Rinkeby-Kista" in page and "SIG Järva" in page and "Aida Uppsökare" in page
    assert f'data-event-id="{event.id}"' in page and "Uppgifter ändrade: hotnivå: normal → hög" in page
    assert 'data-join-dashboard="true"' in page
    assert f'href="/incidents/{incident.id}"' in page


def test_outreach_sees_assigned_incidents_only_and_no_teams(client, logged_in, create_incident, create_team,
                                                            create_district, create_user, session):
    worker = logged_in("outreach")
    create_team(create_district(), [worker, create_user("outreach", name="Kollega Ett")], name="Teamet")
    mine, other = create_incident(assigned=[worker]), create_incident()
    record_event(session, kind="incident", type="incident.updated", incident_id=other.id,
                 summary=f"Incident {other.reference} changed")
    session.commit()
    page = client.get("/dashboard").get_data(as_text=True)
    assert mine.reference in page and other.reference not in page
    assert "Teamet" not in page and "Kollega Ett" not in page
    assert 'data-join-dashboard="false"' in page
    assert 'data-teams-url=""' in page


def test_dashboard_needs_a_login(client):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_role_finds_the_dashboard_in_the_navigation(app, create_user):
    for role in ("outreach", "coordinator", "manager", "admin"):
        client = app.test_client()
        assert login(client, create_user(role).email).status_code == 302
        page = client.get("/dashboard").get_data(as_text=True)
        assert re.search(r'<a href="/dashboard"[^>]*>Lägesbild</a>', page), role


def test_card_fragment_for_one_incident(client, logged_in, create_incident):
    worker = logged_in("outreach")
    mine, other = create_incident(assigned=[worker]), create_incident()
    card = client.get(f"/dashboard/incidents/{mine.id}/card")
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    assert html.lstrip().startswith("<article") and f'data-incident-id="{mine.id}"' in html
    assert "<html" not in html
    assert client.get(f"/dashboard/incidents/{other.id}/card").status_code == 403
    assert client.get("/dashboard/incidents/987654/card").status_code == 404


def test_teams_fragment_is_for_those_who_see_everything(client, logged_in, create_user, create_team,
                                                        create_district, session):
    member = create_user("outreach")
    create_team(create_district(), [member], name="Team Syd")
    set_availability(session, member, Availability.OFF_DUTY)
    session.commit()
    logged_in("manager")
    html = client.get("/dashboard/teams").get_data(as_text=True)
    assert "Team Syd" in html and f'data-user-id="{member.id}" data-availability="off_duty"' in html
    assert "Ledig" in html  # off duty, in Swedish
    client.post("/logout", data={"csrf_token": csrf_token(client, "/dashboard")})
    logged_in("outreach")
    assert client.get("/dashboard/teams").status_code == 403


def test_page_has_no_inline_script(client, logged_in):
    logged_in("coordinator")
    page = client.get("/dashboard").get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", page):
        # Scripts come from files; a JSON data block (never run) carries the offline texts (crisis.pwa).
        assert "src=" in tag or tag == '<script type="application/json" id="offline-config">'


def test_a_card_is_rendered_once_for_what_it_shows_and_again_when_that_changes(
        app, client, logged_in, create_incident, session):
    """Cards are kept by what they show and the language (crisis.live.routes.card_html): the same
    card is not rendered again for the next page or viewer; a changed figure or the other
    language is a card of its own."""
    from flask import template_rendered
    from sqlalchemy import update

    from crisis.incidents.models import Incident, ThreatLevel

    logged_in("coordinator")
    incident = create_incident()
    rendered: list[str] = []

    def note(sender, template, context, **extra):
        rendered.append(template.name)

    template_rendered.connect(note, app)
    try:
        first = client.get("/dashboard").get_data(as_text=True)
        again = client.get("/dashboard").get_data(as_text=True)
        assert rendered.count("live/_card.html") == 1
        card = re.search(r'<article class="live-card.*?</article>', first, re.S).group(0)
        assert card in again and f'data-incident-id="{incident.id}"' in card

        session.execute(update(Incident).where(Incident.id == incident.id).values(threat_level=ThreatLevel.HIGH))
        session.commit()
        changed = client.get("/dashboard").get_data(as_text=True)
        assert rendered.count("live/_card.html") == 2
        assert re.search(r'<article class="live-card.*?</article>', changed, re.S).group(0) != card
        assert "live-threat-high" in changed

        with client.session_transaction() as browser:
            browser["lang"] = "en"
        english = client.get("/dashboard").get_data(as_text=True)
        assert rendered.count("live/_card.html") == 3 and "Open tasks" in english
    finally:
        template_rendered.disconnect(note, app)
