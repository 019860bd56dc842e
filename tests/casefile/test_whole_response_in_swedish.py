"""A whole response, read back in Swedish: timeline page, live feed, socket payloads, CSV and PDF
say what happened, to which task, by whom and when, without an id, a code or an English word."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crisis.timeline.models import TimelineEvent
from tests.casefile.pdftext import pdf_text
from tests.conftest import login

# Internal ids as the old summaries showed them: "Task 40", "staff 6", "team 2", "SMS 12" ...
ID_PATTERN = re.compile(r"\b(?:task|staff|team|dispatch|sms|follow-up|coordinator|message|user|"
                        r"uppgift|personal|samordnare)\s+#?\d+\b", re.I)
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# The product's English status and event words (what the Swedish reader must never see).
ENGLISH_WORDS = ["done", "open", "in progress", "pending", "acknowledged", "delivered", "undelivered", "queued",
                 "cancelled", "declined", "reached", "not reached", "available", "busy", "off duty", "failed",
                 "expired", "escalated", "activated", "created", "updated", "task", "dispatch", "staff",
                 "follow-up", "consent", "given", "opted", "alert", "relative", "plan", "changed", "added",
                 "referred", "nobody", "told", "overdue", "deadline"]
ENGLISH = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")\b", re.I)
STAFF_NUMBER = "+46701740610"  # the first outreach worker's (tests.conftest.response_setup)
RELATIVE_NUMBER = "+46701119988"


def check_swedish(where: str, texts: list[str]) -> None:
    assert texts, f"{where}: nothing to read"
    for text in texts:
        assert not ID_PATTERN.search(text), f"{where}: an internal id in {text!r}"
        assert not SNAKE_CASE.search(text), f"{where}: a code in {text!r}"
        assert not ENGLISH.search(text), f"{where}: English in {text!r}"
        assert "%(" not in text, f"{where}: an unfilled template in {text!r}"


def inbound(session, body: str, sender: str):
    import uuid

    from crisis.messaging.services import receive_inbound

    receive_inbound(session, {"MessageSid": "SM" + uuid.uuid4().hex, "From": sender, "To": "+46701740605",
                              "Body": body})
    session.commit()


def run_a_response(session, activate, response_setup, create_user):
    from crisis.auth.models import Availability
    from crisis.auth.services import deactivate_user, set_availability
    from crisis.dispatch.services import acknowledge_dispatch, dispatch_team, escalate_dispatch
    from crisis.followups.models import FollowUp
    from crisis.followups.services import record_outcome, reschedule
    from crisis.incidents.services import (
        add_person,
        add_relative,
        record_consent,
        refer,
        set_contact_person,
        set_person_case_worker,
        update_incident,
    )
    from crisis.messaging.services import queue_sms_to_relative
    from crisis.referrals.models import SupportOrganisation
    from crisis.tasks.jobs import run_task_escalation
    from crisis.tasks.models import Task
    from crisis.tasks.services import create_task, update_task

    coordinator = response_setup["coordinator"]
    first, second = response_setup["workers"]
    admin = create_user("admin", name="Åsa Admin")
    session.add(SupportOrganisation(code="forsta-linjen", name="Första linjen", kind="health_care"))
    session.commit()

    incident = activate()  # activation: the playbook lays out the tasks
    person = add_person(session, incident, actor=coordinator, outcome="injured")
    set_person_case_worker(session, person, actor=coordinator, case_worker_id=second.id)
    relative = add_relative(session, incident, actor=coordinator, relation="parent", name="Astrid Lindqvist",
                            phone=RELATIVE_NUMBER, language="ar", interpreter_needed=True)
    record_consent(session, relative, actor=coordinator, state="given", scope=["contact", "sms", "referral"])
    set_contact_person(session, relative, actor=coordinator, user_id=first.id)
    session.commit()

    # Dispatch to a visit, silence, escalation to the next in the team, who acknowledges.
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.id)).all()
    visit = next((t for t in tasks if t.relative_id == relative.id), tasks[-1])
    dispatch = dispatch_team(session, incident=incident, team=response_setup["team"], actor=coordinator,
                             purpose="visit", task=visit)
    session.commit()
    escalate_dispatch(session, dispatch, reason="no_acknowledgement")
    session.commit()
    acknowledge_dispatch(session, dispatch, user=second, via="app")
    session.commit()

    # Task changes: worked on, done, re-owned with a deadline, one ad hoc; one goes overdue.
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.id)).all()
    task = tasks[0]
    update_task(session, task, actor=first, expected_version=task.version, status="in_progress")
    session.commit()
    update_task(session, task, actor=first, expected_version=task.version, status="done")
    session.commit()
    later = tasks[1]
    update_task(session, later, actor=coordinator, expected_version=later.version, owner_user_id=first.id,
                due_at=datetime.now(UTC) + timedelta(hours=3), note="Ring först")
    session.commit()
    create_task(session, incident, actor=coordinator, title="Boka tolk till mötet", category="practical_help")
    session.commit()
    run_task_escalation(session, now=datetime.now(UTC) + timedelta(days=30), max_batches=1)
    session.commit()

    # Follow-ups, facts learned later, a referral, an SMS.
    follow_ups = session.scalars(select(FollowUp).where(FollowUp.relative_id == relative.id)
                                 .order_by(FollowUp.due_at)).all()
    record_outcome(session, follow_ups[0], actor=first, outcome="reached", channel="phone")
    session.commit()
    reschedule(session, follow_ups[1], actor=first, due_at=follow_ups[1].due_at + timedelta(days=2),
               reason="interpreter_booking")
    session.commit()
    update_incident(session, incident, actor=coordinator, death_at=datetime.now(UTC) - timedelta(minutes=30),
                    threat_level="high")
    session.commit()
    refer(session, relative, actor=first, organisation_code="forsta-linjen")
    queue_sms_to_relative(session, relative, body="Hej, vi ringer i morgon.", purpose="followup_reminder")
    session.commit()

    # STOP from the relative; STOP and START from a staff member; admin changes.
    inbound(session, "STOPP", RELATIVE_NUMBER)
    inbound(session, "STOPP", STAFF_NUMBER)
    inbound(session, "START", STAFF_NUMBER)
    set_availability(session, second, Availability.BUSY)
    deactivate_user(session, second, actor=admin)
    session.commit()
    return incident, relative


def test_a_whole_response_reads_in_swedish_everywhere(app, client, session, activate, response_setup,
                                                      create_user):
    with app.app_context():  # the dispatch's acknowledgement token is signed with the app's key
        incident, relative = run_a_response(session, activate, response_setup, create_user)
    types = set(session.scalars(select(TimelineEvent.type)))
    assert {"incident.activated", "incident.plan_applied", "person.added", "relative.consent_recorded",
            "dispatch.created", "dispatch.escalated", "dispatch.acknowledged", "task.status_changed",
            "task.updated", "task.created", "task.overdue_escalated", "followup.reached", "followup.rescheduled",
            "incident.updated", "relative.referred", "message.queued", "sms.opted_out", "user.opted_out",
            "user.opted_in", "user.availability_changed", "user.deactivated"} <= types

    manager = create_user("manager", name="Maja Chef")
    assert login(client, manager.email).status_code == 302

    page = client.get(f"/incidents/{incident.id}/timeline").get_data(as_text=True)
    entries = [re.sub(r"\s+", " ", m).strip()
               for m in re.findall(r'<p class="(?:what|concerns muted)">(.*?)</p>', page, flags=re.S)]
    check_swedish("timeline page", entries)
    assert any("Uppgiften" in e and "klar" in e.lower() for e in entries)
    assert any(response_setup["workers"][1].name in e and "tog larmet" in e for e in entries)
    assert any(relative.label in e and "svarade STOPP" in e for e in entries)
    assert "Astrid" not in page and "Lindqvist" not in page

    text = client.get(f"/incidents/{incident.id}/timeline.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    check_swedish("CSV", [cell for row in rows for cell in row[1:] if cell])  # the first cell is the time

    pdf = pdf_text(client.get(f"/incidents/{incident.id}/timeline.pdf").data)
    lines = [line for line in pdf.splitlines() if line.strip()]
    check_swedish("PDF", lines)
    assert "klar" in pdf and response_setup["workers"][1].name in pdf

    dashboard = client.get("/dashboard").get_data(as_text=True)
    feed = [re.sub(r"\s+", " ", m).strip()
            for m in re.findall(r'<span class="live-summary">(.*?)</span>', dashboard, flags=re.S)]
    check_swedish("live feed", feed)
    assert any("svarade STOPP" in f and response_setup["workers"][0].name in f for f in feed)

    from crisis.live.publish import event_payload

    with app.app_context():
        payloads = [event_payload(e) for e in session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    check_swedish("socket payloads", [p["summaries"]["sv"] for p in payloads])
    assert all(p["summary"] == p["summaries"]["sv"] and p["summaries"]["en"] for p in payloads)

    api = client.get(f"/api/v1/incidents/{incident.id}/timeline?limit=500", headers={"Accept-Language": "sv"})
    check_swedish("API", [item["summary"] for item in api.get_json()["items"]])
    english = client.get(f"/api/v1/incidents/{incident.id}/timeline?limit=500",
                         headers={"Accept-Language": "en"}).get_json()["items"]
    assert english[0]["type"] == "incident.activated" and english[0]["summary"].startswith("Response ")
