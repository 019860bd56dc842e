"""Coordinator and manager pages: activation, the incident page, relatives, consent."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crisis.incidents.models import Incident, Relative
from crisis.tasks.models import Task
from crisis.timeline.models import AccessLog
from tests.conftest import csrf_token, login


def local(dt: datetime) -> str:
    return dt.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M")


def activate_via_form(client, district, **overrides):
    data = {"type": "shooting", "occurred_at": local(datetime.now(UTC) - timedelta(minutes=20)),
            "district_id": district.id, "outcome": "deceased", "threat_level": "normal", "persons": "1",
            "police_reference": "5000-K123-26", "place": "Farsta centrum",
            "playbook_id": "stockholm-skjutning", "death_unknown": "y", "confirmed": "yes",
            "csrf_token": csrf_token(client, "/incidents/new")}
    data.update(overrides)
    return client.post("/incidents/new", data=data)


def test_coordinator_activates_a_response_once_confirmed(client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    response = activate_via_form(client, response_setup["district"])
    assert response.status_code == 302
    incident = session.scalar(select(Incident))
    assert response.headers["Location"] == f"/incidents/{incident.id}"
    assert incident.police_reference == "5000-K123-26"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Insats {incident.reference}" in page
    assert "Larma uppsökande team" in page
    assert "Tidsfrist när datum för dödsfall är känt" in page  # estate inventory waits for the death date


def test_activation_with_a_future_time_is_refused_and_keeps_the_input(client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    response = activate_via_form(client, response_setup["district"],
                                 occurred_at=local(datetime.now(UTC) + timedelta(days=1)))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Tiden ligger i framtiden." in page
    assert "5000-K123-26" in page
    assert session.scalar(select(Incident)) is None


def test_playbook_not_for_the_type_falls_back_to_the_matching_one(client, session, response_setup):
    login(client, response_setup["coordinator"].email)
    activate_via_form(client, response_setup["district"], type="lethal_violence")
    incident = session.scalar(select(Incident))
    assert incident.playbook_snapshot.playbook_id == "stockholm-dodligt-vald"


def test_outreach_cannot_activate(client, logged_in, response_setup):
    logged_in("outreach")
    assert client.get("/incidents/new").status_code == 403


def test_outreach_sees_only_assigned_incidents(client, session, activate, response_setup, create_user):
    incident = activate()
    stranger = create_user("outreach")
    login(client, stranger.email)
    assert client.get(f"/incidents/{incident.id}").status_code == 403
    page = client.get("/incidents").get_data(as_text=True)
    assert incident.reference not in page


def test_manager_filters_incidents_read_only(client, session, activate, response_setup, logged_in):
    first = activate()
    second = activate(type="lethal_violence", playbook_id="stockholm-dodligt-vald")
    logged_in("manager")
    page = client.get("/incidents?type=lethal_violence").get_data(as_text=True)
    assert second.reference in page and first.reference not in page
    assert client.get(f"/incidents/{first.id}").status_code == 200
    facts = client.post(f"/incidents/{first.id}/facts",
                        data={"csrf_token": csrf_token(client, "/incidents"), "threat_level": "high"})
    assert facts.status_code == 403


def test_bad_date_filter_says_how_to_write_it(client, logged_in, app):
    logged_in("manager")
    page = client.get("/incidents?start=24/11/2026").get_data(as_text=True)
    assert "ÅÅÅÅ-MM-DD" in page


def test_add_relative_consent_and_the_call_link(client, session, activate, response_setup):
    incident = activate()
    login(client, response_setup["coordinator"].email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    response = client.post(f"/incidents/{incident.id}/relatives", data={
        "csrf_token": token, "relation": "parent", "age_band": "26-64", "gender": "woman",
        "name": "Amina Testsson", "phone": "070-174 06 90", "language": "so", "interpreter_needed": "y",
        "preferred_channel": "phone", "person_id": "0"})
    assert response.status_code == 302
    relative = session.scalar(select(Relative))
    page = client.get(f"/relatives/{relative.id}").get_data(as_text=True)
    assert "Amina Testsson" in page
    assert "tel:" not in page  # no call link before consent
    client.post(f"/relatives/{relative.id}/consent", data={
        "csrf_token": token, "state": "given", "scope": ["contact", "sms"], "given_by": "relative",
        "method": "verbal"})
    page = client.get(f"/relatives/{relative.id}").get_data(as_text=True)
    assert 'href="tel:+46701740690"' in page
    assert session.scalar(select(Task).where(Task.key == f"first-contact@relative:r{relative.id}"))
    # Every opening of the record is in the access log.
    assert len(session.scalars(select(AccessLog).where(AccessLog.relative_id == relative.id)).all()) >= 2


def test_incident_page_shows_labels_not_names(client, session, activate, response_setup):
    from crisis.incidents.services import add_relative

    incident = activate()
    add_relative(session, incident, actor=response_setup["coordinator"], relation="parent", name="Hemligt Namn")
    session.commit()
    login(client, response_setup["coordinator"].email)
    page = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "Anhörig 1" in page and "Hemligt Namn" not in page


def test_protected_identity_needs_a_reason_which_is_logged(client, session, activate, response_setup):
    from crisis.incidents.services import add_relative

    incident = activate()
    relative = add_relative(session, incident, actor=response_setup["coordinator"], relation="sibling",
                            name="Skyddad Person", phone="+46701740691", protected_identity=True)
    session.commit()
    login(client, response_setup["coordinator"].email)
    first = client.get(f"/relatives/{relative.id}").get_data(as_text=True)
    assert "Skyddad Person" not in first and "Varför öppnar du uppgifterna?" in first
    token = csrf_token(client, f"/incidents/{incident.id}")
    opened = client.post(f"/relatives/{relative.id}", data={"csrf_token": token,
                                                           "reason": "Planera första samtalet"})
    page = opened.get_data(as_text=True)
    assert "Skyddad Person" in page
    assert "tel:" not in page  # never a call link or SMS for a protected identity
    entry = session.scalar(select(AccessLog).where(AccessLog.relative_id == relative.id))
    assert entry.reason == "Planera första samtalet"


def test_protected_identity_is_closed_to_other_coordinators(client, session, activate, response_setup,
                                                            create_user):
    from crisis.incidents.services import add_relative

    incident = activate()
    relative = add_relative(session, incident, actor=response_setup["coordinator"], relation="sibling",
                            protected_identity=True)
    session.commit()
    other = create_user("coordinator")
    login(client, other.email)
    assert client.get(f"/relatives/{relative.id}").status_code == 403


def test_contact_person_rule_gives_a_clear_message(client, session, activate, response_setup):
    from crisis.incidents.services import add_relative, set_person_case_worker

    coordinator = response_setup["coordinator"]
    case_worker = response_setup["workers"][0]
    incident = activate()
    set_person_case_worker(session, incident.persons[0], actor=coordinator, case_worker_id=case_worker.id)
    relative = add_relative(session, incident, actor=coordinator, relation="parent")
    session.commit()
    login(client, coordinator.email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    response = client.post(f"/relatives/{relative.id}/contact-person",
                           data={"csrf_token": token, "user_id": case_worker.id})
    assert response.status_code == 422
    assert "en anhörig får inte ha samma handläggare" in response.get_data(as_text=True)


def test_death_date_via_facts_form_dates_the_estate_inventory(client, session, activate, response_setup):
    occurred = datetime.now(UTC) - timedelta(days=2)
    incident = activate(outcome="deceased", occurred_at=occurred)
    login(client, response_setup["coordinator"].email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    death = occurred + timedelta(hours=3)
    response = client.post(f"/incidents/{incident.id}/facts", data={
        "csrf_token": token, "version": incident.version, "threat_level": "normal", "status": "active",
        "death_at": local(death)})
    assert response.status_code == 302
    estate = session.scalar(select(Task).where(Task.step_id == "estate-inventory"))
    assert estate.due_at is not None


def test_stale_facts_form_is_refused_with_409(client, session, activate, response_setup):
    incident = activate()
    login(client, response_setup["coordinator"].email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    response = client.post(f"/incidents/{incident.id}/facts", data={
        "csrf_token": token, "version": incident.version - 1 if incident.version > 1 else 99,
        "threat_level": "high", "status": "active"})
    assert response.status_code == 409
    assert session.get(Incident, incident.id).threat_level.value == "normal"
