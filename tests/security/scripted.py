"""A full response, scripted through the API and the pages, with a distinct value in every free-text field.

Used by the log test (finding 3: no name or number in any log line) and the database-dump test (finding 9:
no free text in clear in the database). `send(method, path, token=None, json=None, form=None)` makes one
request (over real HTTP or the test client) and returns (status, parsed JSON or text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

NAMES = {"relative": "Fatima Quokkasson", "child": "Elias Quokkasson", "person": "Yusuf Offerqvist"}
PHONE = "+46701749931"
PHONE_FORMS = ("+46701749931", "%2B46701749931", "46701749931", "0701749931", "070-174 99 31",
               "070%20174%2099%2031")
FREE_TEXT = {
    "place": "Skarpnäcks gård östra",
    "place_after": "Hökarängens torg västra",
    "police_reference": "5000-K424242-26",
    "police_reference_after": "5000-K515151-26",
    "relative_notes": "Vill bli kontaktad efter klockan tre, Xylofon",
    "person_name": NAMES["person"],
    "consent_note": "Samtycke muntligt via tolk Zebrafink",
    "task_title": "Ring Försäkringskassan om Kolibri",
    "task_description": "Efterlevandestöd, ärende Pelikan",
    "task_note": "Lämnade meddelande hos Tukan",
    "referral_note": "Remiss till Brottsofferjouren om Flamingo",
    "export_reason": "Registerutdrag begärt av Marabu, dnr 2026/4711",
}


@dataclass
class Script:
    send: object  # the request function
    coordinator_token: str
    manager_token: str
    district_id: int
    ids: dict = field(default_factory=dict)

    def ok(self, method, path, *, token=None, json=None, form=None, expect=(200, 201)):
        status, body = self.send(method, path, token=token, json=json, form=form)
        assert status in expect, (method, path, status, body)
        return body


def run(script: Script) -> dict:
    """Run the response; returns the ids made."""
    coord, manager = script.coordinator_token, script.manager_token
    incident = script.ok("POST", "/api/v1/incidents", token=coord, json={
        "type": "shooting", "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "district_id": script.district_id, "playbook_id": "stockholm-skjutning", "outcome": "injured",
        "police_reference": FREE_TEXT["police_reference"], "place": FREE_TEXT["place"], "persons": 0})
    incident_id = incident["id"]
    person = script.ok("POST", f"/api/v1/incidents/{incident_id}/persons", token=coord,
                       json={"name": FREE_TEXT["person_name"], "outcome": "injured"})
    relative = script.ok("POST", f"/api/v1/incidents/{incident_id}/relatives", token=coord, json={
        "relation": "parent", "name": NAMES["relative"], "phone": PHONE, "notes": FREE_TEXT["relative_notes"],
        "person_id": person["id"]})
    relative_id = relative["id"]
    child = script.ok("POST", f"/api/v1/incidents/{incident_id}/relatives", token=coord, json={
        "relation": "child", "is_child": True, "age_band": "13-17", "name": NAMES["child"]})
    script.ok("POST", f"/api/v1/relatives/{relative_id}/consent", token=coord, json={
        "state": "given", "scope": ["contact", "sms", "referral"], "note": FREE_TEXT["consent_note"]})
    task = script.ok("POST", f"/api/v1/incidents/{incident_id}/tasks", token=coord, json={
        "title": FREE_TEXT["task_title"], "description": FREE_TEXT["task_description"],
        "category": "practical_help", "relative_id": relative_id})
    script.ok("PATCH", f"/api/v1/tasks/{task['id']}", token=coord, json={
        "note": FREE_TEXT["task_note"], "version": task["version"]})
    script.ok("POST", f"/api/v1/relatives/{relative_id}/referrals", token=coord, json={
        "organisation": "brottsofferjouren", "note": FREE_TEXT["referral_note"]}, expect=(200, 201, 422))
    current = script.ok("GET", f"/api/v1/incidents/{incident_id}", token=coord)
    script.ok("PATCH", f"/api/v1/incidents/{incident_id}", token=coord, json={
        "place": FREE_TEXT["place_after"], "police_reference": FREE_TEXT["police_reference_after"],
        "version": current["version"]})
    script.ok("GET", f"/api/v1/relatives/{relative_id}", token=coord)
    script.ok("POST", f"/api/v1/relatives/{relative_id}/data-subject-export", token=manager,
              json={"reason": FREE_TEXT["export_reason"]})
    script.ids.update(incident=incident_id, relative=relative_id, child=child["id"], task=task["id"])
    return script.ids
