"""API: relatives by label, their logged records, consent, contact person, referrals."""

import json

import pytest
from sqlalchemy import select

from crisis.incidents import services
from crisis.incidents.access import assign
from crisis.incidents.models import AffectedPerson, Relative
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import AccessLog, TimelineEvent
from tests.api.conftest import assert_problem

NAME, PHONE = "Amina Testsson", "+46701112233"


@pytest.fixture
def incident(activate):
    return activate()


@pytest.fixture
def add(api, staff, incident):
    """Add a relative over the API as the incident's coordinator; returns its id."""

    def factory(**fields):
        body = {"relation": "parent", "name": NAME, "phone": "070-111 22 33", **fields}
        response = api.post(f"/incidents/{incident.id}/relatives", as_=staff["coordinator"], json=body)
        assert response.status_code == 201, response.json
        return response.json["id"]

    return factory


def access_rows(session, relative_id):
    return session.scalars(select(AccessLog).where(AccessLog.relative_id == relative_id).order_by(AccessLog.id)).all()


# -- POST /incidents/{id}/relatives ---------------------------------------------------------------


def test_adding_a_relative_answers_by_label_and_lays_out_its_tasks(api, staff, incident, session):
    response = api.post(f"/incidents/{incident.id}/relatives", as_=staff["coordinator"], json={
        "relation": "sibling", "is_child": True, "age_band": "13-17", "language": "so",
        "interpreter_needed": True, "phone": "070-111 22 33", "name": NAME, "preferred_channel": "visit"})
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"] == f"/api/v1/relatives/{body['id']}"
    assert body["label"] == "Anhörig 1" and body["consent"] == "unknown" and body["is_child"] is True
    assert NAME not in response.get_data(as_text=True) and "111" not in response.get_data(as_text=True)
    stored = session.get(Relative, body["id"])
    assert stored.phone == PHONE and stored.language == "so"
    keys = set(session.scalars(select(Task.key).where(Task.relative_id == body["id"])))
    assert f"obtain-consent@relative:r{body['id']}" in keys


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"relation": "cousin"}, "relation", "one of"),
    ({"phone": "12"}, "phone", "+46701234567"),
    ({"is_child": True, "age_band": "26-64"}, "age_band", "child"),
    ({"is_child": False, "age_band": "0-12"}, "age_band", "tick 'child'"),
    ({"language": "123"}, "language", "language code"),
    ({"person_id": 999999}, "person_id", "does not belong"),
    ({"contact_person_id": 999999}, "contact_person_id", "No active staff"),
    ({"is_child": "yes"}, "is_child", "true or false"),
])
def test_relative_refusals_name_the_field(api, staff, incident, fields, field, words):
    body = {"relation": "parent", **fields}
    response = api.post(f"/incidents/{incident.id}/relatives", as_=staff["coordinator"], json=body)
    assert words in assert_problem(response, 422, field)["detail"]


def test_contact_person_is_never_the_case_worker_of_the_person_concerned(api, staff, incident, session):
    case_worker = staff["workers"][1]
    person = session.scalars(select(AffectedPerson).where(AffectedPerson.incident_id == incident.id)).first()
    person.case_worker_id = case_worker.id
    session.commit()
    response = api.post(f"/incidents/{incident.id}/relatives", as_=staff["coordinator"],
                        json={"relation": "parent", "person_id": person.id, "contact_person_id": case_worker.id})
    body = assert_problem(response, 422, "contact_person_id")
    assert "case worker" in body["detail"] and "another contact person" in body["detail"]
    assert session.scalar(select(Relative.id).where(Relative.incident_id == incident.id)) is None


def test_only_coordinators_add_relatives(api, staff, incident, session):
    assign(session, staff["workers"][0].id, incident.id)
    session.commit()
    for who in ("manager", "outsider"):
        assert_problem(api.post(f"/incidents/{incident.id}/relatives", as_=staff[who],
                                json={"relation": "parent"}), 403)
    assert_problem(api.post(f"/incidents/{incident.id}/relatives", as_=staff["workers"][0],
                            json={"relation": "parent"}), 403)


# -- masking in lists ------------------------------------------------------------------------------


def test_lists_show_relatives_by_label_only(api, staff, incident, add):
    add()
    add(protected_identity=True, name="Hemlig Person", phone="+46709998877")
    for path in (f"/incidents/{incident.id}", f"/incidents/{incident.id}/relatives",
                 f"/incidents/{incident.id}/tasks", f"/incidents/{incident.id}/timeline", "/incidents"):
        response = api.get(path, as_=staff["coordinator"])
        assert response.status_code == 200
        text = json.dumps(response.json, ensure_ascii=False)
        for secret in (NAME, PHONE, "Hemlig", "+46709998877", "9998877"):
            assert secret not in text, (path, secret)
    relatives = api.get(f"/incidents/{incident.id}/relatives", as_=staff["manager"]).json["items"]
    assert [r["label"] for r in relatives] == ["Anhörig 1", "Anhörig 2"]
    assert [r["protected_identity"] for r in relatives] == [False, True]
    detail = api.get(f"/incidents/{incident.id}", as_=staff["manager"]).json
    assert detail["relative_counts"]["protected_identity"] == 1 and detail["relative_counts"]["total"] == 2


# -- GET /relatives/{id}: the logged record ---------------------------------------------------------


def test_reading_a_record_shows_details_and_writes_the_access_log(api, staff, incident, add, session):
    relative_id = add(notes="Vill bli kontaktad efter kl 16")
    response = api.get(f"/relatives/{relative_id}", as_=staff["other_coordinator"])
    assert response.status_code == 200
    body = response.json
    assert body["name"] == NAME and body["phone"] == PHONE and body["notes"] == "Vill bli kontaktad efter kl 16"
    assert response.headers["Cache-Control"] == "no-store"
    [row] = access_rows(session, relative_id)
    assert (row.user_id, row.incident_id, row.action, row.reason) == (
        staff["other_coordinator"].id, incident.id, "view", None)
    assert row.assigned is False  # a coordinator covering for a colleague, not assigned
    api.get(f"/relatives/{relative_id}?reason=Uppf%C3%B6ljning", as_=staff["coordinator"])
    rows = access_rows(session, relative_id)
    assert len(rows) == 2 and rows[1].assigned is True and rows[1].reason == "Uppföljning"


def test_assigned_outreach_reads_the_record_and_is_logged_as_assigned(api, staff, incident, add, session):
    relative_id = add()
    worker = staff["workers"][0]
    assign(session, worker.id, incident.id)
    session.commit()
    assert api.get(f"/relatives/{relative_id}", as_=worker).json["phone"] == PHONE
    assert [(r.user_id, r.assigned) for r in access_rows(session, relative_id)] == [(worker.id, True)]


def test_managers_not_assigned_and_other_outreach_are_refused_and_nothing_is_logged(api, staff, incident, add,
                                                                                    session):
    relative_id = add()
    manager_refused = api.get(f"/relatives/{relative_id}", as_=staff["manager"])
    assert "assigned" in assert_problem(manager_refused, 403)["detail"]
    # IDOR: an outreach worker of another incident cannot read this relative.
    assert_problem(api.get(f"/relatives/{relative_id}", as_=staff["outsider"]), 403)
    assert access_rows(session, relative_id) == []
    assign(session, staff["manager"].id, incident.id)
    session.commit()
    assert api.get(f"/relatives/{relative_id}", as_=staff["manager"]).status_code == 200
    assert_problem(api.get("/relatives/999999", as_=staff["coordinator"]), 404)
    assert_problem(api.get(f"/relatives/{relative_id}"), 401)


def test_protected_identity_needs_the_incidents_coordinator_or_contact_person_and_a_reason(
        api, staff, incident, add, session):
    contact = staff["workers"][0]
    relative_id = add(protected_identity=True, contact_person_id=contact.id)
    path = f"/relatives/{relative_id}"
    for who in ("other_coordinator", "admin", "manager"):
        assert "protected identity" in assert_problem(api.get(path, as_=staff[who]), 403)["detail"]
    assert "reason" in assert_problem(api.get(path, as_=staff["coordinator"]), 422, "reason")["detail"]
    assert_problem(api.get(path + "?reason=x", as_=staff["coordinator"]), 422, "reason")
    assert access_rows(session, relative_id) == []
    ok = api.get(path + "?reason=F%C3%B6rsta%20kontakt", as_=staff["coordinator"])
    assert ok.status_code == 200 and ok.json["name"] == NAME
    assert api.get(path + "?reason=Hembes%C3%B6k%20i%20dag", as_=contact).status_code == 200
    rows = access_rows(session, relative_id)
    assert [(r.user_id, r.reason) for r in rows] == [(staff["coordinator"].id, "Första kontakt"),
                                                     (contact.id, "Hembesök i dag")]


def test_anonymised_record_is_gone(api, staff, incident, add, session):
    from crisis.core.db import utcnow

    relative_id = add()
    session.get(Relative, relative_id).anonymised_at = utcnow()
    session.commit()
    assert_problem(api.get(f"/relatives/{relative_id}", as_=staff["coordinator"]), 410)
    assert api.get(f"/incidents/{incident.id}/relatives", as_=staff["coordinator"]).json["items"] == []


# -- POST /relatives/{id}/consent ---------------------------------------------------------------------


def test_recording_consent_opens_outreach_and_is_in_the_record(api, staff, incident, add, session):
    relative_id = add()
    response = api.post(f"/relatives/{relative_id}/consent", as_=staff["coordinator"], json={
        "state": "given", "scope": ["contact", "sms"], "method": "written",
        "decided_at": "2026-11-23T18:00:00+01:00", "note": "Via telefon"})
    assert response.status_code == 201, response.json
    assert response.json["consent"]["scope"] == ["contact", "sms"]
    assert response.json["consent"]["decided_at"] == "2026-11-23T17:00:00+00:00"
    assert response.json["relative"]["consent"] == "given"
    live = set(session.scalars(select(Task.key).where(Task.relative_id == relative_id,
                                                      Task.status != TaskStatus.CANCELLED)))
    assert f"first-contact@relative:r{relative_id}" in live
    record = api.get(f"/relatives/{relative_id}", as_=staff["coordinator"]).json
    assert [c["state"] for c in record["consent_records"]] == ["given"]
    assert record["consent_records"][0]["recorded_by_id"] == staff["coordinator"].id


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"state": "unknown"}, "state", "one of"),
    ({"state": "given", "scope": ["sms"]}, "scope", "at least cover contact"),
    ({"state": "given", "scope": ["everything"]}, "scope[0]", "one of"),
    ({"state": "given", "scope": ["contact", "contact"]}, "scope", "repeat"),
    ({"state": "given", "decided_at": "2199-01-01T00:00:00+00:00"}, "decided_at", "future"),
    ({"state": "given", "decided_at": "2999-01-01T00:00:00+00:00"}, "decided_at", "between the years"),
    ({"state": "given", "decided_at": "2026-01-01T10:00"}, "decided_at", "offset"),
    ({"state": "given", "method": "telepathy"}, "method", "one of"),
    ({}, "state", "required"),
])
def test_consent_refusals(api, staff, add, body, field, words):
    relative_id = add()
    response = api.post(f"/relatives/{relative_id}/consent", as_=staff["coordinator"], json=body)
    assert words in assert_problem(response, 422, field)["detail"]


def test_a_childs_consent_is_given_by_the_guardian(api, staff, add):
    relative_id = add(relation="child", is_child=True, age_band="0-12")
    path = f"/relatives/{relative_id}/consent"
    refused = api.post(path, as_=staff["coordinator"], json={"state": "given"})
    assert "guardian" in assert_problem(refused, 422, "given_by")["detail"]
    assert api.post(path, as_=staff["coordinator"], json={"state": "given", "given_by": "guardian"}).status_code == 201


def test_who_may_record_consent(api, staff, incident, add, session):
    relative_id = add()
    path = f"/relatives/{relative_id}/consent"
    assert_problem(api.post(path, as_=staff["manager"], json={"state": "declined"}), 403)
    assert_problem(api.post(path, as_=staff["outsider"], json={"state": "declined"}), 403)
    worker = staff["workers"][0]
    assign(session, worker.id, incident.id)
    session.commit()
    assert api.post(path, as_=worker, json={"state": "declined"}).status_code == 201


# -- PUT /relatives/{id}/contact-person -----------------------------------------------------------------


def test_setting_and_removing_the_contact_person(api, staff, incident, add, session):
    relative_id = add()
    worker = staff["workers"][1]
    response = api.put(f"/relatives/{relative_id}/contact-person", as_=staff["coordinator"],
                       json={"user_id": worker.id})
    assert response.status_code == 200 and response.json["contact_person_id"] == worker.id
    # The contact person now sees the incident and the record.
    assert api.get(f"/relatives/{relative_id}", as_=worker).status_code == 200
    removed = api.put(f"/relatives/{relative_id}/contact-person", as_=staff["coordinator"], json={"user_id": None})
    assert removed.json["contact_person_id"] is None
    types = session.scalars(select(TimelineEvent.type).where(TimelineEvent.subject_id == relative_id)).all()
    assert types.count("relative.contact_person_set") == 2


def test_contact_person_refusals(api, staff, incident, add, session):
    relative_id = add()
    path = f"/relatives/{relative_id}/contact-person"
    person = session.scalars(select(AffectedPerson).where(AffectedPerson.incident_id == incident.id)).first()
    person.case_worker_id = staff["workers"][0].id
    session.commit()
    refused = api.put(path, as_=staff["coordinator"], json={"user_id": staff["workers"][0].id})
    assert "case worker" in assert_problem(refused, 422, "contact_person_id")["detail"]
    assert_problem(api.put(path, as_=staff["coordinator"], json={}), 422, "user_id")
    assert_problem(api.put(path, as_=staff["coordinator"], json={"user_id": "me"}), 422, "user_id")
    assign(session, staff["workers"][1].id, incident.id)
    session.commit()
    assert_problem(api.put(path, as_=staff["workers"][1], json={"user_id": staff["workers"][1].id}), 403)


# -- POST /relatives/{id}/referrals -------------------------------------------------------------------


@pytest.fixture
def organisation(session):
    row = SupportOrganisation(code="brottsofferjouren", name="Brottsofferjouren", kind="civil_society",
                              description={"sv": "Stöd till brottsoffer"})
    session.add(row)
    session.commit()
    return row


def test_referral_needs_consent_for_referral(api, staff, add, organisation, session):
    relative_id = add()
    path = f"/relatives/{relative_id}/referrals"
    refused = api.post(path, as_=staff["coordinator"], json={"organisation": "brottsofferjouren"})
    assert "consent" in assert_problem(refused, 422, "organisation")["detail"]
    api.post(f"/relatives/{relative_id}/consent", as_=staff["coordinator"],
             json={"state": "given", "scope": ["contact", "referral"]})
    response = api.post(path, as_=staff["coordinator"], json={"organisation": "brottsofferjouren", "note": "Ring"})
    assert response.status_code == 201, response.json
    assert response.json["organisation"]["name"] == "Brottsofferjouren" and response.json["status"] == "made"
    assert session.scalar(select(Referral.relative_id)) == relative_id
    record = api.get(f"/relatives/{relative_id}", as_=staff["coordinator"]).json
    assert [r["organisation"]["code"] for r in record["referrals"]] == ["brottsofferjouren"]


def test_referral_refusals(api, staff, add, organisation):
    relative_id = add()
    path = f"/relatives/{relative_id}/referrals"
    assert "No support organisation" in assert_problem(
        api.post(path, as_=staff["coordinator"], json={"organisation": "nowhere"}), 422, "organisation")["detail"]
    assert_problem(api.post(path, as_=staff["coordinator"], json={"organisation": ""}), 422, "organisation")
    assert_problem(api.post(path, as_=staff["manager"], json={"organisation": "brottsofferjouren"}), 403)


def test_support_organisations_are_listed(api, staff, organisation):
    items = api.get("/support-organisations", as_=staff["workers"][0]).json["items"]
    assert [(o["code"], o["kind"]) for o in items] == [("brottsofferjouren", "civil_society")]


def test_consent_is_recorded_through_the_service_path(api, staff, add, session):
    """The API adds nothing of its own: the same event the pages produce is on the timeline."""
    relative_id = add()
    api.post(f"/relatives/{relative_id}/consent", as_=staff["coordinator"], json={"state": "declined"})
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "relative.consent_recorded")).one()
    assert event.data["after"] == "declined" and NAME not in event.summary
    assert services.consent_covers(session.get(Relative, relative_id), "contact") is False
