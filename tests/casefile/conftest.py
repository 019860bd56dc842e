"""A response with a history: activation (the playbook engine lays out tasks), a relative with
a name and a phone number, consent, first contact, a dispatch, an SMS, a follow-up, and the
relative's record opened by an assigned worker and by a coordinator who is not assigned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.incidents.access import assign
from crisis.incidents.services import add_relative, record_consent, record_first_contact
from crisis.timeline.models import AccessLog, TimelineEvent
from crisis.timeline.services import log_access, record_event

RELATIVE_NAME = "Astrid Lindqvist"
RELATIVE_PHONE = "+46701112233"


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch):
    """Argon2 with RFC 9106 defaults costs ~0.3 s a user; these tests are about the timeline."""
    from argon2 import PasswordHasher

    from crisis.auth import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@dataclass
class Case:
    incident: object
    relative: object
    coordinator: object
    worker: object
    outsider: object  # a coordinator not assigned to the incident
    flagged_access: object
    assigned_access: object


@pytest.fixture
def case(session, activate, response_setup, create_user) -> Case:
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]
    outsider = create_user("coordinator", name="Nils Utanför")
    incident = activate()
    relative = add_relative(session, incident, actor=coordinator, relation="parent", name=RELATIVE_NAME,
                            phone=RELATIVE_PHONE, language="ar", interpreter_needed=True)
    assign(session, worker.id, incident.id)
    record_consent(session, relative, actor=coordinator, state="given", scope=["contact", "sms"])
    session.commit()
    record_event(session, kind="dispatch", type="dispatch.created", actor=coordinator, incident_id=incident.id,
                 summary=f"Dispatch {incident.reference}-1 (visit) to staff {worker.id}: SMS queued",
                 data={"dispatch_id": 1, "purpose": "visit", "user_id": worker.id, "alerted": [worker.id],
                       "no_sms": {}})
    record_event(session, kind="message", type="message.delivered", actor="sms", incident_id=incident.id,
                 summary="SMS to staff delivered",
                 data={"message_id": 1, "status": "delivered", "purpose": "dispatch"})
    record_first_contact(session, relative, actor=worker)
    record_event(session, kind="followup", type="followup.reached", actor=worker, incident_id=incident.id,
                 summary=f"Follow-up 1d with {relative.label}: reached",
                 data={"relative_id": relative.id, "label": "1d"})
    record_event(session, kind="task", type="task.overdue_escalated", actor="scheduler", incident_id=incident.id,
                 summary="Task overdue; coordinator told", data={})
    session.commit()
    # The record is opened twice, between the first and the last event.
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                             .order_by(TimelineEvent.occurred_at, TimelineEvent.id)).all()
    middle = events[len(events) // 2].occurred_at
    assigned_access = log_access(session, user=worker, relative=relative, action="view", assigned=True)
    assigned_access.at = middle + timedelta(microseconds=1)
    flagged_access = log_access(session, user=outsider, relative=relative, action="view", assigned=False,
                                reason="Täcker upp för samordnaren i natt")
    flagged_access.at = middle + timedelta(microseconds=2)
    session.commit()
    assert session.scalar(select(AccessLog).where(AccessLog.id == flagged_access.id)) is not None
    return Case(incident, relative, coordinator, worker, outsider, flagged_access, assigned_access)
