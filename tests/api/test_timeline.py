"""API: an incident's timeline, in order, filtered and paged."""

from sqlalchemy import select

from crisis.incidents import services
from crisis.timeline.models import TimelineEvent
from tests.api.conftest import assert_problem


def test_timeline_is_in_order_and_only_this_incidents(api, staff, activate, session):
    incident, other = activate(), activate()
    services.add_relative(session, incident, actor=staff["coordinator"], relation="parent", name="Amina Testsson",
                          phone="+46701112233")
    session.commit()
    body = api.get(f"/incidents/{incident.id}/timeline", as_=staff["manager"]).json
    ids = [e["id"] for e in body["items"]]
    assert ids == sorted(ids) and body["has_more"] is False and body["next_after"] == ids[-1]
    assert {e["incident_id"] for e in body["items"]} == {incident.id}
    types = [e["type"] for e in body["items"]]
    assert types[:2] == ["incident.activated", "incident.plan_applied"] and "relative.added" in types
    stored = session.scalars(select(TimelineEvent.id).where(TimelineEvent.incident_id == incident.id)
                             .order_by(TimelineEvent.id)).all()
    assert ids == stored
    text = str(body)
    assert "Amina" not in text and "46701112233" not in text and "Anhörig 1" in text
    assert other.id not in {e["incident_id"] for e in body["items"]}


def test_timeline_filters_by_kind_and_pages_after_an_id(api, staff, activate, session):
    incident = activate()
    for relation in ("parent", "sibling", "partner"):
        services.add_relative(session, incident, actor=staff["coordinator"], relation=relation)
    session.commit()
    path = f"/incidents/{incident.id}/timeline"
    relatives = api.get(path + "?kind=relative", as_=staff["coordinator"]).json["items"]
    assert [e["type"] for e in relatives] == ["relative.added"] * 3
    first = api.get(path + "?limit=2", as_=staff["coordinator"]).json
    assert len(first["items"]) == 2 and first["has_more"] is True
    rest = api.get(path + f"?after={first['next_after']}&limit=500", as_=staff["coordinator"]).json
    assert rest["has_more"] is False
    everything = api.get(path, as_=staff["coordinator"]).json["items"]
    assert [e["id"] for e in first["items"] + rest["items"]] == [e["id"] for e in everything]
    # Polling past the end answers nothing new and keeps the cursor.
    latest = everything[-1]["id"]
    assert api.get(path + f"?after={latest}", as_=staff["coordinator"]).json == {
        "items": [], "has_more": False, "next_after": latest, "next_cursor": None}


def test_timeline_refusals(api, staff, activate):
    incident = activate()
    path = f"/incidents/{incident.id}/timeline"
    for query, field in [("?after=-1", "after"), ("?after=abc", "after"), ("?limit=501", "limit"),
                         ("?kind=Task%20X", "kind"), ("?after=99999999999999999999", "after")]:
        assert_problem(api.get(path + query, as_=staff["coordinator"]), 422, field)
    assert_problem(api.get(path, as_=staff["outsider"]), 403)
    assert_problem(api.get("/incidents/999999/timeline", as_=staff["coordinator"]), 404)
    assert_problem(api.get(path), 401)


def test_errors_keep_their_code_and_speak_the_language_asked_for(api, staff):
    body = {"type": "shooting", "playbook_id": "stockholm-skjutning", "district_id": staff["district"].id,
            "occurred_at": "2099-01-01T00:00:00+00:00"}
    swedish = api.post("/incidents", as_=staff["coordinator"], json=body, headers={"Accept-Language": "sv"})
    english = api.post("/incidents", as_=staff["coordinator"], json=body, headers={"Accept-Language": "en"})
    assert swedish.status_code == english.status_code == 422
    assert swedish.json["code"] == english.json["code"] == "unprocessable"
    assert swedish.json["errors"][0]["field"] == english.json["errors"][0]["field"] == "occurred_at"
    assert "framtiden" in swedish.json["detail"] and "future" in english.json["detail"]


def test_timeline_api_keeps_the_facts_and_adds_the_sentence_in_the_language_asked_for(api, staff):
    created = api.post("/incidents", as_=staff["coordinator"], json={
        "type": "shooting", "playbook_id": "stockholm-skjutning", "district_id": staff["district"].id,
        "occurred_at": "2026-01-01T00:00:00+00:00"})
    assert created.status_code == 201, created.json
    path = f"/incidents/{created.json['id']}/timeline"
    sv = api.get(path, as_=staff["coordinator"], headers={"Accept-Language": "sv"}).json["items"][0]
    en = api.get(path, as_=staff["coordinator"], headers={"Accept-Language": "en"}).json["items"][0]
    assert sv["type"] == en["type"] == "incident.activated"
    assert sv["data"] == en["data"] and sv["data"]["district_id"] == staff["district"].id
    assert sv["summary"].startswith("Insats ") and en["summary"].startswith("Response ")
