"""The API's JSON for incidents, affected persons, relatives and consent, and the component
schemas it publishes for them. The reading of requests is crisis.core.apischema; tasks and
referrals have their own serializers.

Relatives appear by label ("Anhörig 2") in every shape except the full record
from `GET /relatives/{id}`, which is access-logged; the name of the person
concerned is stored but never returned. Free-text notes travel only to staff
allowed to see the relative's record (socialtjänstsekretess, OSL 26 kap. 1 §).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.core.apischema import (
    ID_OR_NULL,
    LANG_MAP,
    NEXT_CURSOR_SCHEMA,
    TIME,
    TIME_OR_NULL,
    iso,
    lang,
    text_in,
    values_schema,
)
from crisis.core.openapi import document
from crisis.incidents.models import (
    AffectedPerson,
    AgeBand,
    ConsentRecord,
    ConsentState,
    ContactChannel,
    Gender,
    Incident,
    IncidentStatus,
    IncidentType,
    Outcome,
    Relation,
    Relative,
    ThreatLevel,
)
from crisis.referrals.models import Referral
from crisis.referrals.serializers import referral_json
from crisis.tasks.models import Task, TaskStatus
from crisis.tasks.queries import OPEN

_COUNTS = {"type": "object", "required": ["open", "overdue", "done"],
           "properties": {"open": {"type": "integer"}, "overdue": {"type": "integer"}, "done": {"type": "integer"}}}


def incident_json(incident: Incident, counts: dict[str, int] | None = None, language: str | None = None) -> dict:
    """An incident as lists show it; a list passes `language` (lang()) once for all its incidents."""
    snapshot = incident.playbook_snapshot
    return {
        "id": incident.id,
        "reference": incident.reference,
        "type": incident.type.value,
        "status": incident.status.value,
        "outcome": incident.outcome.value,
        "threat_level": incident.threat_level.value,
        "occurred_at": iso(incident.occurred_at),
        "reported_at": iso(incident.reported_at),
        "activated_at": iso(incident.activated_at),
        "closed_at": iso(incident.closed_at),
        "district": {"id": incident.district.id, "name": incident.district.name},
        "place": incident.place,
        "police_reference": incident.police_reference,
        "coordinator_id": incident.coordinator_id,
        "playbook": {"id": snapshot.playbook_id, "version": snapshot.version,
                     "content_hash": snapshot.content_hash, "title": text_in(snapshot.content.get("title"), language or lang())},
        "death_at": iso(incident.death_at),
        "funeral_at": iso(incident.funeral_at),
        "judgment_at": iso(incident.judgment_at),
        "tasks": counts or {"open": 0, "overdue": 0, "done": 0},
        "version": incident.version,
        "updated_at": iso(incident.updated_at),
    }


def phase_progress(incident: Incident, tasks: list[Task], now: datetime) -> list[dict]:
    """Per playbook phase (in the playbook's order): how many tasks are open, done, overdue.

    Cancelled tasks (their condition no longer holds) are not counted; ad hoc
    tasks form a last group with id null.
    """
    language = lang()
    groups: list[tuple[str | None, dict]] = [
        (phase["id"], phase.get("title", {})) for phase in incident.playbook_snapshot.content.get("phases", [])
    ]
    known = {phase_id for phase_id, _ in groups}
    if any(t.phase_id is None or t.phase_id not in known for t in tasks if t.status != TaskStatus.CANCELLED):
        groups.append((None, {"sv": "Övriga uppgifter", "en": "Other tasks"}))
    progress = []
    for phase_id, title in groups:
        mine = [t for t in tasks if t.status != TaskStatus.CANCELLED
                and (t.phase_id == phase_id if phase_id is not None else (t.phase_id not in known))]
        open_tasks = [t for t in mine if t.status in OPEN]
        progress.append({
            "id": phase_id,
            "title": title,
            "title_text": text_in(title, language),
            "total": len(mine),
            "open": len(open_tasks),
            "done": sum(t.status == TaskStatus.DONE for t in mine),
            "not_applicable": sum(t.status == TaskStatus.NOT_APPLICABLE for t in mine),
            "overdue": sum(t.due_at is not None and t.due_at < now for t in open_tasks),
        })
    return progress


def person_json(person: AffectedPerson) -> dict:
    # The name is stored (encrypted) for the case file but never leaves through the API.
    return {
        "id": person.id,
        "label": person.label,
        "outcome": person.outcome.value,
        "death_at": iso(person.death_at),
        "gender": person.gender.value,
        "age_band": person.age_band.value,
        "case_worker_id": person.case_worker_id,
    }


def relative_summary_json(relative: Relative) -> dict:
    """A relative by label: what lists, dashboards and other people's screens may show."""
    return {
        "id": relative.id,
        "incident_id": relative.incident_id,
        "label": relative.label,
        "person_id": relative.person_id,
        "relation": relative.relation.value,
        "is_child": relative.is_child,
        "age_band": relative.age_band.value,
        "language": relative.language,
        "interpreter_needed": relative.interpreter_needed,
        "preferred_channel": relative.preferred_channel.value,
        "protected_identity": relative.protected_identity,
        "consent": relative.consent.value,
        "contact_person_id": relative.contact_person_id,
        "first_contact_at": iso(relative.first_contact_at),
        "version": relative.version,
    }


def relative_counts(relatives: list[Relative]) -> dict:
    consent = {state.value: 0 for state in ConsentState}
    for relative in relatives:
        consent[relative.consent.value] += 1
    return {
        "total": len(relatives),
        "children": sum(r.is_child for r in relatives),
        "protected_identity": sum(r.protected_identity for r in relatives),
        "interpreter_needed": sum(r.interpreter_needed for r in relatives),
        "consent": consent,
    }


def consent_json(record: ConsentRecord) -> dict:
    return {
        "id": record.id,
        "relative_id": record.relative_id,
        "state": record.state.value,
        "scope": list(record.scope or []),
        "method": record.method,
        "given_by": record.given_by,
        "decided_at": iso(record.decided_at),
        "recorded_by_id": record.recorded_by_id,
        "note": record.note,
        "created_at": iso(record.created_at),
    }


def relative_detail_json(session: Session, relative: Relative) -> dict:
    """The full record: only for those `access.can_see_relative_details` allows, and logged."""
    referrals = session.scalars(
        select(Referral).where(Referral.relative_id == relative.id).order_by(Referral.referred_at, Referral.id)
    ).all()
    return {
        **relative_summary_json(relative),
        "name": relative.name,
        "phone": relative.phone,
        "gender": relative.gender.value,
        "notes": relative.notes,
        "consent_records": [consent_json(r) for r in relative.consent_records],
        "referrals": [referral_json(r) for r in referrals],
        "created_at": iso(relative.created_at),
        "updated_at": iso(relative.updated_at),
    }


def incident_detail_json(session: Session, incident: Incident, now: datetime) -> dict:
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id)).all()
    relatives = [r for r in incident.relatives if r.anonymised_at is None]
    counts = {
        "open": sum(t.status in OPEN for t in tasks),
        "overdue": sum(t.status in OPEN and t.due_at is not None and t.due_at < now for t in tasks),
        "done": sum(t.status == TaskStatus.DONE for t in tasks),
    }
    return {
        **incident_json(incident, counts),
        "phases": phase_progress(incident, list(tasks), now),
        "persons": [person_json(p) for p in incident.persons],
        "relatives": [relative_summary_json(r) for r in relatives],
        "relative_counts": relative_counts(relatives),
    }


document(schemas={
    "IncidentSummary": {
        "type": "object",
        "required": ["id", "reference", "type", "status", "outcome", "threat_level", "occurred_at",
                     "activated_at", "district", "playbook", "tasks", "version"],
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string", "description": "Short random reference, safe in an SMS."},
            "type": values_schema(IncidentType), "status": values_schema(IncidentStatus), "outcome": values_schema(Outcome),
            "threat_level": values_schema(ThreatLevel),
            "occurred_at": TIME, "reported_at": TIME_OR_NULL, "activated_at": TIME, "closed_at": TIME_OR_NULL,
            "district": {"type": "object", "required": ["id", "name"],
                         "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
            "place": {"type": "string", "description": "Coarse area, never an address."},
            "police_reference": {"type": ["string", "null"]},
            "coordinator_id": ID_OR_NULL,
            "playbook": {"type": "object", "required": ["id", "version", "content_hash"], "properties": {
                "id": {"type": "string"}, "version": {"type": "integer"}, "content_hash": {"type": "string"},
                "title": {"type": "string"}}},
            "death_at": TIME_OR_NULL, "funeral_at": TIME_OR_NULL, "judgment_at": TIME_OR_NULL,
            "tasks": _COUNTS,
            "version": {"type": "integer", "description": "Send it back (If-Match or version) to change the incident."},
            "updated_at": TIME,
        },
    },
    "Incident": {
        "allOf": [{"$ref": "#/components/schemas/IncidentSummary"}],
        "type": "object",
        "required": ["phases", "persons", "relatives", "relative_counts"],
        "properties": {
            "phases": {"type": "array", "items": {"$ref": "#/components/schemas/PhaseProgress"}},
            "persons": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}},
            "relatives": {"type": "array", "items": {"$ref": "#/components/schemas/RelativeSummary"}},
            "relative_counts": {"type": "object", "properties": {
                "total": {"type": "integer"}, "children": {"type": "integer"},
                "protected_identity": {"type": "integer"}, "interpreter_needed": {"type": "integer"},
                "consent": {"type": "object", "additionalProperties": {"type": "integer"}}}},
        },
    },
    "IncidentList": {
        "type": "object", "required": ["items", "total", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/IncidentSummary"}},
                       "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
                       "next_cursor": NEXT_CURSOR_SCHEMA},
    },
    "PhaseProgress": {
        "type": "object", "required": ["id", "title", "total", "open", "done", "overdue"],
        "properties": {
            "id": {"type": ["string", "null"], "description": "The playbook phase; null for ad hoc tasks."},
            "title": LANG_MAP, "title_text": {"type": "string"},
            "total": {"type": "integer"}, "open": {"type": "integer"}, "done": {"type": "integer"},
            "not_applicable": {"type": "integer"}, "overdue": {"type": "integer"},
        },
    },
    "Person": {
        "type": "object", "required": ["id", "label", "outcome"],
        "description": "The person concerned (den närstående), by label; the name is never returned.",
        "properties": {
            "id": {"type": "integer"}, "label": {"type": "string"}, "outcome": values_schema(Outcome),
            "death_at": TIME_OR_NULL, "gender": values_schema(Gender), "age_band": values_schema(AgeBand),
            "case_worker_id": ID_OR_NULL,
        },
    },
    "RelativeSummary": {
        "type": "object",
        "description": "A relative by label (\"Anhörig 2\"): never a name or phone number.",
        "required": ["id", "incident_id", "label", "relation", "is_child", "consent", "protected_identity",
                     "version"],
        "properties": {
            "id": {"type": "integer"}, "incident_id": {"type": "integer"}, "label": {"type": "string"},
            "person_id": ID_OR_NULL, "relation": values_schema(Relation), "is_child": {"type": "boolean"},
            "age_band": values_schema(AgeBand), "language": {"type": "string"},
            "interpreter_needed": {"type": "boolean"}, "preferred_channel": values_schema(ContactChannel),
            "protected_identity": {"type": "boolean"}, "consent": values_schema(ConsentState),
            "contact_person_id": ID_OR_NULL, "first_contact_at": TIME_OR_NULL, "version": {"type": "integer"},
        },
    },
    "Relative": {
        "allOf": [{"$ref": "#/components/schemas/RelativeSummary"}],
        "type": "object",
        "description": "The full record of a relative; every read is access-logged.",
        "required": ["name", "phone", "consent_records", "referrals"],
        "properties": {
            "name": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
            "gender": values_schema(Gender), "notes": {"type": ["string", "null"]},
            "consent_records": {"type": "array", "items": {"$ref": "#/components/schemas/ConsentRecord"}},
            "referrals": {"type": "array", "items": {"$ref": "#/components/schemas/Referral"}},
            "created_at": TIME, "updated_at": TIME,
        },
    },
    "RelativeList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/RelativeSummary"}},
                       "next_cursor": NEXT_CURSOR_SCHEMA},
    },
    "ConsentRecord": {
        "type": "object", "required": ["id", "relative_id", "state", "scope", "decided_at"],
        "properties": {
            "id": {"type": "integer"}, "relative_id": {"type": "integer"},
            "state": {"type": "string", "enum": ["given", "declined", "withdrawn"]},
            "scope": {"type": "array", "items": {"type": "string"}},
            "method": {"type": "string"}, "given_by": {"type": "string"}, "decided_at": TIME,
            "recorded_by_id": ID_OR_NULL, "note": {"type": ["string", "null"]}, "created_at": TIME,
        },
    },
})
