"""A refused form says why once, in Swedish: next to its field, or as the one flash message when
the refusal belongs to no field of the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crisis.incidents.services import add_relative, set_person_case_worker
from tests.conftest import csrf_token, login


def local(dt: datetime) -> str:
    return dt.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M")


def said_once(page: str, message: str, where: str) -> None:
    assert page.count(message) == 1, f"{message!r} is said {page.count(message)} times"
    places = {"field": r'<p class="field-error">([^<]*)</p>', "flash": r'<p class="flash flash-error"[^>]*>([^<]*)</p>'}
    found = [m for m in re.findall(places[where], page) if message in m]
    assert len(found) == 1, f"{message!r} is not shown as a {where} error"


def test_a_bad_phone_number_is_said_once_next_to_the_phone_field(client, activate, response_setup):
    incident = activate()
    login(client, response_setup["coordinator"].email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    response = client.post(f"/incidents/{incident.id}/relatives", data={
        "csrf_token": token, "relation": "parent", "age_band": "26-64", "gender": "woman", "phone": "12",
        "language": "sv", "preferred_channel": "phone", "person_id": "0"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    said_once(page, "Telefonnumret", "field")
    assert "write it as" not in page  # Swedish, not the English original


def test_a_death_before_the_incident_is_said_once_next_to_the_date(client, activate, response_setup):
    occurred = datetime.now(UTC) - timedelta(days=1)
    incident = activate(outcome="deceased", occurred_at=occurred)
    login(client, response_setup["coordinator"].email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    response = client.post(f"/incidents/{incident.id}/facts", data={
        "csrf_token": token, "version": incident.version, "threat_level": "normal", "status": "active",
        "death_at": local(occurred - timedelta(hours=5))})
    assert response.status_code == 422
    said_once(response.get_data(as_text=True), "Dödstidpunkt är före händelsen.", "field")


def test_a_refusal_about_no_field_of_the_form_is_one_flash_message(client, session, activate, response_setup):
    coordinator, case_worker = response_setup["coordinator"], response_setup["workers"][0]
    incident = activate()
    set_person_case_worker(session, incident.persons[0], actor=coordinator, case_worker_id=case_worker.id)
    relative = add_relative(session, incident, actor=coordinator, relation="parent")
    session.commit()
    login(client, coordinator.email)
    token = csrf_token(client, f"/incidents/{incident.id}")
    response = client.post(f"/relatives/{relative.id}/contact-person",
                           data={"csrf_token": token, "user_id": case_worker.id})
    assert response.status_code == 422
    said_once(response.get_data(as_text=True), "en anhörig får inte ha samma handläggare", "flash")


def test_a_follow_up_moved_into_the_past_is_said_once_by_the_date(client, session, activate, response_setup):
    from sqlalchemy import select

    from crisis.followups.models import FollowUp
    from crisis.incidents.services import record_consent

    coordinator = response_setup["coordinator"]
    incident = activate()
    relative = add_relative(session, incident, actor=coordinator, relation="parent")
    record_consent(session, relative, actor=coordinator, state="given", scope=["contact"])
    session.commit()
    follow_up = session.scalars(select(FollowUp).where(FollowUp.relative_id == relative.id)).first()
    login(client, coordinator.email)
    token = csrf_token(client, f"/followups/{follow_up.id}")
    response = client.post(f"/followups/{follow_up.id}/reschedule", data={
        "csrf_token": token, "due_at": local(datetime.now(UTC) - timedelta(days=3)), "reason": "relative_asked",
        "version": follow_up.version})
    assert response.status_code == 422
    said_once(response.get_data(as_text=True), "Den nya dagen har redan varit", "field")
