"""Activation at the desk (issue 18): nothing guessed, a confirmation step, the date of death, and
withdrawing an activation made by mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.incidents import services
from crisis.incidents.models import Incident, Relative
from crisis.incidents.withdrawal import withdraw_incident
from crisis.live.dashboard import incident_cards
from crisis.reports.services import Period, collect_facts
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import AccessLog, TimelineEvent
from tests.conftest import csrf_token, login
from tests.incidents.test_pages import activate_via_form


def test_an_untouched_activation_form_creates_nothing(client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    page = client.get("/incidents/new").get_data(as_text=True)
    # Only the time and the coordinator's own district are filled in.
    assert f'<option selected value="{response_setup["district"].id}">' in page
    for name in ("type", "outcome", "threat_level"):
        select_html = page[page.index(f'<select id="{name}"'):]
        select_html = select_html[:select_html.index("</select>")]
        assert "selected" not in select_html, name  # "Välj…" (empty) shows until someone chooses
    response = client.post("/incidents/new", data={"csrf_token": csrf_token(client, "/incidents/new"),
                                                   "occurred_at": "2026-11-30T02:10",
                                                   "district_id": response_setup["district"].id})
    assert response.status_code == 422
    assert "Välj ett alternativ." in response.get_data(as_text=True)
    assert session.scalar(select(Incident)) is None


def test_the_confirmation_step_shows_tasks_deadlines_and_team_and_creates_nothing(
        client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    response = activate_via_form(client, response_setup["district"], confirmed="")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Kontrollera innan du aktiverar" in page
    assert "Larma uppsökande team" in page and "Senast" in page  # tasks with their deadlines
    team = page[page.index('class="confirm-team"'):]
    team = team[:team.index("</section>")]
    assert "SIG Farsta" in team
    assert all(w.name in team for w in response_setup["workers"])  # members, in on-call order
    assert team.index(response_setup["workers"][0].name) < team.index(response_setup["workers"][1].name)
    assert 'name="confirmed" value="yes"' in page
    assert session.scalar(select(Incident)) is None


def test_the_confirmation_step_names_who_is_on_call_first(client, session, response_setup):
    from crisis.oncall.services import save_rotation, simple_rotation
    from crisis.organisation.models import Team

    first, second = response_setup["workers"][:2]
    team = session.scalar(select(Team).where(Team.name == "SIG Farsta"))
    # The second in the team's order is on call all week: the confirmation says so and puts them first.
    cycle, shifts = simple_rotation([second.id], shift_days=7)
    save_rotation(session, team, starts_on=(datetime.now(UTC) - timedelta(days=2)).date(), cycle_days=cycle,
                  shifts=shifts, actor=response_setup["coordinator"])
    session.commit()
    login(client, response_setup["coordinator"].email)
    page = activate_via_form(client, response_setup["district"], confirmed="").get_data(as_text=True)
    team_html = page[page.index('class="confirm-team"'):]
    team_html = team_html[:team_html.index("</section>")]
    assert "Har jour nu:" in team_html and second.name in team_html
    members = team_html[team_html.index("confirm-members"):]
    assert members.index(second.name) < members.index(first.name)


def test_deceased_needs_the_date_of_death_or_not_yet_known(client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    response = activate_via_form(client, response_setup["district"], death_unknown="")
    assert response.status_code == 422
    assert "Inte känt ännu" in response.get_data(as_text=True)
    assert session.scalar(select(Incident)) is None


def test_a_date_of_death_given_at_activation_dates_the_practical_help(client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    death = datetime.now(UTC) - timedelta(minutes=10)
    local = death.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M")
    response = activate_via_form(client, response_setup["district"], death_unknown="", death_at=local)
    assert response.status_code == 302
    incident = session.scalar(select(Incident))
    assert incident.death_at is not None
    estate = session.scalar(select(Task).where(Task.step_id == "estate-inventory"))
    assert estate.due_at is not None


def test_a_child_age_band_makes_a_child_without_ticking_both(client, session, activate, response_setup):
    incident = activate()
    login(client, response_setup["coordinator"].email)
    response = client.post(f"/incidents/{incident.id}/relatives", data={
        "csrf_token": csrf_token(client, f"/incidents/{incident.id}"), "relation": "sibling",
        "age_band": "0-12", "gender": "unknown", "language": "sv", "preferred_channel": "phone",
        "person_id": "0", "then": "another"})
    # "Save and add another" comes back to the incident with the form open again.
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/incidents/{incident.id}?add=another#add-relative")
    assert session.scalar(select(Relative)).is_child is True
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<details id="add-relative" open>' in page and "Lägg till ytterligare en anhörig" in page


def _relative_with_consent(session, incident, coordinator):
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent",
                                     phone="+46701740697")
    services.record_consent(session, relative, actor=coordinator, state="given", scope=["contact"])
    session.commit()
    return relative


def test_a_withdrawn_activation_leaves_dashboard_and_statistics_and_stays_in_the_timeline(
        client, session, activate, response_setup):
    coordinator = response_setup["coordinator"]
    kept = activate()
    mistake = activate()
    _relative_with_consent(session, mistake, coordinator)
    open_before = session.scalars(select(Task).where(Task.incident_id == mistake.id,
                                                     Task.status == TaskStatus.OPEN)).all()
    assert open_before and session.scalar(select(FollowUp).where(FollowUp.incident_id == mistake.id))
    login(client, coordinator.email)
    token = csrf_token(client, f"/incidents/{mistake.id}/withdraw")
    refused = client.post(f"/incidents/{mistake.id}/withdraw", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 422
    response = client.post(f"/incidents/{mistake.id}/withdraw",
                           data={"csrf_token": token, "reason": "Testaktivering av misstag"})
    assert response.status_code == 302
    session.expire_all()

    # Tasks and follow-ups cancelled.
    assert not session.scalars(select(Task).where(Task.incident_id == mistake.id,
                                                  Task.status == TaskStatus.OPEN)).all()
    assert {f.status for f in session.scalars(select(FollowUp).where(FollowUp.incident_id == mistake.id))} \
        == {FollowUpStatus.CANCELLED}
    # Gone from the dashboard ...
    cards = incident_cards(session, coordinator)
    assert [c.id for c in cards] == [kept.id]
    assert f'id="incident-{mistake.id}"' not in client.get("/dashboard").get_data(as_text=True)
    # ... and from the statistics ...
    now = datetime.now(UTC)
    facts = collect_facts(session, Period((now - timedelta(days=1)).date(), (now + timedelta(days=1)).date()), now)
    assert len(facts.incidents) == 1
    # ... and kept in the timeline with the reason.
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "incident.withdrawn"))
    assert event.incident_id == mistake.id and event.data["reason"] == "Testaktivering av misstag"
    assert event.data["cancelled"]["tasks"] == len(open_before)
    timeline = client.get(f"/incidents/{mistake.id}/timeline").get_data(as_text=True)
    assert "Testaktivering av misstag" in timeline
    # Nothing brings its plan back.
    with pytest.raises(services.IncidentError):
        services.add_relative(session, session.get(Incident, mistake.id), actor=coordinator, relation="parent")


def test_only_a_recent_activation_can_be_withdrawn(session, activate, response_setup):
    incident = activate()
    later = incident.activated_at + timedelta(hours=25)
    with pytest.raises(services.IncidentError, match="24 hours"):
        withdraw_incident(session, incident, actor=response_setup["coordinator"], reason="För sent nu",
                          now=later)


def test_outreach_cannot_withdraw(client, session, activate, response_setup):
    incident = activate()
    login(client, response_setup["workers"][0].email)
    assert client.get(f"/incidents/{incident.id}/withdraw").status_code == 403


def test_the_person_assigned_to_ask_for_consent_reads_the_number_and_it_is_logged(
        client, session, activate, response_setup):
    from crisis.incidents.access import assign

    coordinator = response_setup["coordinator"]
    asker, other = response_setup["workers"]
    incident = activate()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent",
                                     phone="+46701740696")
    consent_task = session.scalar(select(Task).where(Task.relative_id == relative.id,
                                                     Task.step_id == "obtain-consent"))
    consent_task.owner_user_id = asker.id
    assign(session, asker.id, incident.id)
    assign(session, other.id, incident.id)
    session.commit()

    login(client, other.email)
    token = csrf_token(client, f"/relatives/{relative.id}")
    assert "tel:" not in client.get(f"/relatives/{relative.id}").get_data(as_text=True)
    refused = client.post(f"/relatives/{relative.id}/consent-call", data={"csrf_token": token})
    assert refused.status_code == 303
    assert "tel:" not in client.get(refused.headers["Location"]).get_data(as_text=True)

    client.post("/logout", data={"csrf_token": token})
    login(client, asker.email)
    token = csrf_token(client, f"/relatives/{relative.id}")
    page = client.post(f"/relatives/{relative.id}/consent-call", data={"csrf_token": token}).get_data(as_text=True)
    assert 'href="tel:+46701740696"' in page and "Ring och fråga om samtycke" in page
    entry = session.scalar(select(AccessLog).where(AccessLog.relative_id == relative.id,
                                                   AccessLog.action == "consent_call"))
    assert entry.user_id == asker.id and "samtycke" in entry.reason
    assert session.scalar(select(AccessLog).where(AccessLog.action == "consent_call",
                                                  AccessLog.user_id == other.id)) is None
