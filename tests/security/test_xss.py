"""Stored XSS: whatever people type (names, notes, places, reasons, SMS texts) is shown escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crisis.core.db import db
from crisis.incidents.models import ConsentRecord, Incident, Relative
from crisis.messaging.models import Message
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.tasks.models import Task
from crisis.timeline.services import log_access, record_event

SCRIPT = '<script>alert("xss")</script>'
IMG = "<img src=x onerror=alert(1)>"
BREAKOUT = '</textarea><svg onload=alert(1)>"\'>'
RAW = (SCRIPT, IMG, "<svg onload")  # the markup itself; its text escaped is fine


@pytest.fixture
def poisoned(session, world):
    """The world with hostile text in every free-text field a person can fill."""
    w = world
    relative = session.get(Relative, w.relative_a.id)
    relative.name, relative.notes = SCRIPT, IMG
    incident = session.get(Incident, w.incident_a.id)
    incident.place, incident.police_reference = IMG, SCRIPT[:60]
    task = session.get(Task, w.task_a.id)
    task.note = BREAKOUT
    w.users["outreach"].name = SCRIPT  # a staff name shows on task lists, dispatches, timelines
    session.merge(w.users["outreach"])
    session.get(type(w.follow_up_a), w.follow_up_a.id).outcome_note = IMG
    session.add(ConsentRecord(relative_id=relative.id, state="given", scope=["contact"],
                              decided_at=datetime.now(UTC), note=SCRIPT))
    organisation = SupportOrganisation(code="xss-org", name="Bris", kind="civil_society")
    session.add(organisation)
    session.flush()
    session.add(Referral(relative_id=relative.id, organisation_id=organisation.id, note=IMG))
    session.get(Message, w.message_a.id).body = SCRIPT  # an inbound SMS says whatever its sender wants
    log_access(session, user=w.users["coordinator"], relative=relative, action="view", reason=SCRIPT)
    record_event(session, kind="incident", type="incident.noted", actor=w.users["outreach"],
                 incident_id=incident.id, summary=f"Note by {IMG}")
    session.commit()
    db.session.remove()
    return w


def assert_escaped(browser, path: str) -> str:
    response = browser.request("GET", path)
    assert response.status_code == 200, f"{path} -> {response.status_code}"
    page = response.get_data(as_text=True)
    found = [raw for raw in RAW if raw in page]
    assert not found, f"{path} shows {found} unescaped"
    return page


def test_the_coordinators_pages_escape_stored_text(poisoned, browsers):
    w = poisoned
    coordinator = browsers["coordinator"]
    relative_page = assert_escaped(coordinator, f"/relatives/{w.relative_a.id}")
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in relative_page  # shown, as text
    task_page = assert_escaped(coordinator, f"/tasks/{w.task_a.id}")
    assert "&lt;/textarea&gt;" in task_page
    for path in ["/incidents", f"/incidents/{w.incident_a.id}", f"/followups/{w.follow_up_a.id}", "/dashboard",
                 f"/incidents/{w.incident_a.id}/timeline", "/sms", f"/sms/{w.message_a.id}", "/dispatches",
                 f"/dispatches/{w.dispatch_a['outreach'].id}", "/me/tasks", "/followups/week"]:
        assert_escaped(coordinator, path)


def test_the_managers_pages_escape_stored_text(poisoned, browsers):
    w = poisoned
    manager = browsers["manager"]
    for path in ["/access-log", f"/privacy?reference={w.incident_a.reference}", "/reports",
                 f"/incidents/{w.incident_a.id}/timeline"]:
        assert_escaped(manager, path)


def test_the_outreach_pages_escape_stored_text(poisoned, browsers):
    w = poisoned
    worker = browsers["outreach"]
    for path in ["/me/tasks", f"/relatives/{w.relative_a.id}", f"/tasks/{w.task_a.id}", "/dashboard",
                 f"/followups/{w.follow_up_a.id}", f"/dispatches/{w.dispatch_a['outreach'].id}"]:
        assert_escaped(worker, path)


def test_pages_forbid_inline_scripts(poisoned, browsers):
    response = browsers["coordinator"].request("GET", f"/relatives/{poisoned.relative_a.id}")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_json_carries_the_text_as_data(poisoned, browsers):
    response = browsers["coordinator"].request("GET", f"/api/v1/relatives/{poisoned.relative_a.id}")
    assert response.mimetype == "application/json"
    assert response.json["name"] == SCRIPT
    assert response.headers["X-Content-Type-Options"] == "nosniff"
