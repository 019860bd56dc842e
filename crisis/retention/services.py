"""Retention (gallring) and the data-subject export.

Retention: a social-services record is removed five years after its last
entry (socialtjänstlagen 2001:453, 12 kap. 1-2 §§; docs/domain.md "Retention"),
so the personal data of an incident closed longer ago than
`RETENTION_CLOSED_INCIDENT_DAYS` (default 1826 days) is removed: relatives'
names, numbers and notes, the names of the persons concerned, every free
text (consent, task, follow-up and referral notes, assignment notes), SMS
numbers and texts, the police reference and the place. What statistics need
stays: types, outcomes, districts, dates, relations, age bands, genders,
consent states, task and follow-up statuses (seed 004, 3.6.1: target group,
gender, age; the district comparisons of issue 5). Relatives' contact
details may go sooner (`RETENTION_RELATIVE_CONTACT_DAYS`, data
minimisation; SKR "Radering och rättelse").

The access log is kept: log reviews need it for at least five years after
the access (HSLF-FS 2016:40 4 kap. 9 a §, docs/domain.md "Access logging"); it
holds ids and reasons, never names.

Data-subject export (GDPR art. 15): everything held about one relative, for
a manager answering a request; the export itself is logged in the access
log ("data_subject_export") with its reason and on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from crisis.core.db import utcnow
from crisis.eventtext.render import render as render_event
from crisis.followups.models import FollowUp
from crisis.incidents.access import is_assigned
from crisis.incidents.models import (
    AffectedPerson,
    ConsentRecord,
    Incident,
    IncidentAssignment,
    IncidentStatus,
    Relative,
)
from crisis.messaging.models import Message
from crisis.referrals.models import Referral
from crisis.tasks.models import Task
from crisis.timeline.models import AccessLog, TimelineEvent
from crisis.timeline.services import log_access, record_event

RETENTION_ACTOR = "retention"
EXPORT_ACTION = "data_subject_export"


class RetentionError(ValueError):
    """A request the retention rules refuse; the message says what to do."""


@dataclass(frozen=True)
class RetentionPolicy:
    closed_incident_days: int
    relative_contact_days: int | None = None

    @classmethod
    def from_config(cls, config) -> RetentionPolicy:
        from crisis.core.config import DEFAULT_RETENTION_CLOSED_INCIDENT_DAYS

        return cls(
            closed_incident_days=int(config.get("RETENTION_CLOSED_INCIDENT_DAYS")
                                     or DEFAULT_RETENTION_CLOSED_INCIDENT_DAYS),
            relative_contact_days=config.get("RETENTION_RELATIVE_CONTACT_DAYS") or None,
        )

    def anonymise_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.closed_incident_days)

    def contact_details_before(self, now: datetime) -> datetime | None:
        if self.relative_contact_days is None:
            return None
        return now - timedelta(days=self.relative_contact_days)


# -- which incidents ----------------------------------------------------------------------


def incidents_to_anonymise(session: Session, policy: RetentionPolicy, now: datetime, limit: int = 100) -> list[int]:
    """Closed longer than the retention period and not yet anonymised, oldest first."""
    return list(session.scalars(
        select(Incident.id)
        .where(Incident.status == IncidentStatus.CLOSED, Incident.closed_at.is_not(None),
               Incident.closed_at <= policy.anonymise_before(now), Incident.anonymised_at.is_(None))
        .order_by(Incident.closed_at, Incident.id).limit(limit)
    ))


def incidents_with_old_contact_details(session: Session, policy: RetentionPolicy, now: datetime,
                                       limit: int = 100) -> list[int]:
    """Closed longer than the contact-details period with a relative's number still held."""
    before = policy.contact_details_before(now)
    if before is None:
        return []
    return list(session.scalars(
        select(Incident.id)
        .where(Incident.status == IncidentStatus.CLOSED, Incident.closed_at.is_not(None),
               Incident.closed_at <= before, Incident.anonymised_at.is_(None),
               exists().where(Relative.incident_id == Incident.id, Relative.phone_digest.is_not(None)))
        .order_by(Incident.closed_at, Incident.id).limit(limit)
    ))


def lock_incident(session: Session, incident_id: int) -> Incident | None:
    """The incident, locked for this transaction (PostgreSQL); None if another process has it."""
    return session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update(skip_locked=True)
    ).one_or_none()


# -- removing personal data ----------------------------------------------------------------


def _relative_ids(session: Session, incident_id: int) -> list[int]:
    return list(session.scalars(select(Relative.id).where(Relative.incident_id == incident_id)))


def _forget_numbers(session: Session, incident_id: int, relative_ids: list[int], *, bodies: bool) -> int:
    """Numbers (and with `bodies`, texts) of the SMS of an incident or its relatives.

    Without `bodies` only the relatives' texts lose their numbers: the staff
    alerts of the incident keep theirs until the whole record goes."""
    if bodies:
        linked = Message.incident_id == incident_id
        if relative_ids:
            linked = or_(linked, Message.recipient_relative_id.in_(relative_ids))
    elif relative_ids:
        linked = Message.recipient_relative_id.in_(relative_ids)
    else:
        return 0
    held = or_(Message.to_number.is_not(None), Message.from_number.is_not(None),
               Message.counterpart_digest.is_not(None))
    values: dict = {"to_number": None, "from_number": None, "counterpart_digest": None}
    if bodies:
        values["body"] = ""
    return session.execute(
        update(Message).where(linked, held).values(values).execution_options(synchronize_session=False)
    ).rowcount


#: Keys of timeline data that may hold typed text rather than ids and codes (incident facts' before/after).
FREE_TEXT_KEYS = frozenset({"place", "police_reference"})
REMOVED = "(removed by retention)"


def _blank(value):
    """Every non-empty text in `value` replaced (the shape, e.g. before/after, stays)."""
    if isinstance(value, str):
        return REMOVED if value else value
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return value


def _scrub(value):
    if isinstance(value, dict):
        return {k: (_blank(v) if k in FREE_TEXT_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _scrub_timeline(session: Session, incident_id: int) -> int:
    """Typed text in the incident's timeline data (the place, before and after a change).

    Summaries and other data hold ids, labels and codes by construction
    (crisis.timeline.services.record_event) and stay for the case review."""
    changed = 0
    for event in session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)):
        scrubbed = _scrub(event.data or {})
        if scrubbed != (event.data or {}):
            event.data = scrubbed  # a new object: the JSON column sees the change
            changed += 1
    return changed


#: What an ad hoc task's title becomes when retention removes its text.
CLEARED_TITLE = {"sv": "Uppgift (gallrad)", "en": "Task (removed by retention)"}


def _clear_ad_hoc_tasks(session: Session, incident_id: int) -> int:
    tasks = session.scalars(select(Task).where(Task.incident_id == incident_id, Task.key.is_(None))).all()
    for task in tasks:
        # Row by row: the columns are encrypted, so no SQL can tell a cleared one from another.
        task.title = dict(CLEARED_TITLE)
        task.description = None
    return len(tasks)


def anonymise_incident(session: Session, incident: Incident, *, now: datetime | None = None,
                       actor=RETENTION_ACTOR, policy: RetentionPolicy | None = None) -> dict[str, int]:
    """Remove the personal data of `incident`, keeping what statistics need; returns counts.

    Idempotent: an incident already anonymised is left as it is (counts 0).
    Versions of changed rows are bumped, so an edit based on what was there
    before is refused as stale instead of writing personal data back.
    """
    now = now or utcnow()
    if incident.anonymised_at is not None:
        return {}
    if incident.status != IncidentStatus.CLOSED:
        raise RetentionError(f"Incident {incident.reference} is not closed; only closed incidents are anonymised.")
    relative_ids = _relative_ids(session, incident.id)
    quiet = {"synchronize_session": False}
    counts = {
        "relatives": session.execute(
            update(Relative).where(Relative.incident_id == incident.id, Relative.anonymised_at.is_(None))
            .values(name=None, phone=None, phone_digest=None, notes=None, anonymised_at=now,
                    version=Relative.version + 1).execution_options(**quiet)).rowcount,
        "persons": session.execute(
            update(AffectedPerson).where(AffectedPerson.incident_id == incident.id, AffectedPerson.name.is_not(None))
            .values(name=None).execution_options(**quiet)).rowcount,
        "consent_notes": session.execute(
            update(ConsentRecord).where(ConsentRecord.relative_id.in_(relative_ids), ConsentRecord.note.is_not(None))
            .values(note=None).execution_options(**quiet)).rowcount if relative_ids else 0,
        "task_notes": session.execute(
            update(Task).where(Task.incident_id == incident.id, Task.note.is_not(None))
            .values(note=None, version=Task.version + 1).execution_options(**quiet)).rowcount,
        "follow_up_notes": session.execute(
            update(FollowUp).where(FollowUp.incident_id == incident.id, FollowUp.outcome_note.is_not(None))
            .values(outcome_note=None, version=FollowUp.version + 1).execution_options(**quiet)).rowcount,
        "referral_notes": session.execute(
            update(Referral).where(Referral.relative_id.in_(relative_ids), Referral.note.is_not(None))
            .values(note=None).execution_options(**quiet)).rowcount if relative_ids else 0,
        # Ad hoc tasks hold typed text in their title and description (issue 14); playbook tasks
        # keep theirs, which come from the public plan.
        "ad_hoc_task_texts": _clear_ad_hoc_tasks(session, incident.id),
        "assignment_notes": session.execute(
            update(IncidentAssignment).where(IncidentAssignment.incident_id == incident.id,
                                             IncidentAssignment.note != "")
            .values(note="").execution_options(**quiet)).rowcount,
        "messages": _forget_numbers(session, incident.id, relative_ids, bodies=True),
    }
    counts["timeline_values"] = _scrub_timeline(session, incident.id)
    # The police reference leads to the persons; the place with the date identifies the event.
    incident.police_reference = None
    incident.place = ""
    incident.anonymised_at = now
    for relative in incident.relatives:
        session.expire(relative)
    days = (policy.closed_incident_days if policy else None)
    summary = "Personal data removed after the retention period"
    if days:
        summary += f" ({days} days after closing)"
    record_event(session, kind="retention", type="incident.anonymised", actor=actor, incident_id=incident.id,
                 subject=incident, summary=summary, data={"counts": counts, "retention_days": days})
    return counts


def remove_contact_details(session: Session, incident: Incident, *, now: datetime | None = None,
                           actor=RETENTION_ACTOR, policy: RetentionPolicy | None = None) -> dict[str, int]:
    """Relatives' phone numbers of a closed incident (the shorter contact-details period)."""
    if incident.anonymised_at is not None:
        return {}
    relative_ids = _relative_ids(session, incident.id)
    counts = {
        "relatives": session.execute(
            update(Relative).where(Relative.incident_id == incident.id,
                                   or_(Relative.phone_digest.is_not(None), Relative.phone.is_not(None)))
            .values(phone=None, phone_digest=None, version=Relative.version + 1)
            .execution_options(synchronize_session=False)).rowcount,
        "messages": _forget_numbers(session, incident.id, relative_ids, bodies=False),
    }
    if not any(counts.values()):
        return counts
    for relative in incident.relatives:
        session.expire(relative)
    days = policy.relative_contact_days if policy else None
    record_event(session, kind="retention", type="incident.contact_details_removed", actor=actor,
                 incident_id=incident.id, subject=incident,
                 summary="Relatives' phone numbers removed after the contact-details period",
                 data={"counts": counts, "retention_days": days})
    return counts


# -- the data-subject export -------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def data_subject_export(session: Session, relative: Relative, *, actor, reason: str,
                        now: datetime | None = None, approved_request=None) -> dict:
    """Everything held about `relative` (GDPR art. 15), logged with `reason`.

    A relative with protected identity only through an approved two-person
    request (crisis.retention.protected_export, issue 14)."""
    if relative.protected_identity and (approved_request is None or approved_request.relative_id != relative.id):
        raise RetentionError("Protected identity: the export needs a request approved by a second person.")
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise RetentionError("Say why the export is made (e.g. \"begäran om registerutdrag\").")
    now = now or utcnow()
    log_access(session, user=actor, relative=relative, action=EXPORT_ACTION, reason=reason[:300],
               assigned=is_assigned(session, actor, relative.incident_id))
    record_event(session, kind="relative", type="relative.data_subject_export", actor=actor,
                 incident_id=relative.incident_id, subject=relative,
                 summary=f"Data-subject export of {relative.label}",
                 data={"relative_id": relative.id})
    session.flush()
    incident = relative.incident
    from crisis.auth.models import User

    def staff(user_id: int | None) -> dict | None:
        if user_id is None:
            return None
        user = session.get(User, user_id)
        return {"id": user_id, "name": user.name if user else None}

    tasks = session.scalars(select(Task).where(Task.relative_id == relative.id).order_by(Task.id)).all()
    follow_ups = session.scalars(
        select(FollowUp).where(FollowUp.relative_id == relative.id).order_by(FollowUp.id)).all()
    referrals = session.scalars(
        select(Referral).where(Referral.relative_id == relative.id).order_by(Referral.id)).all()
    messages = session.scalars(
        select(Message).where(Message.recipient_relative_id == relative.id).order_by(Message.id)).all()
    accesses = session.scalars(
        select(AccessLog).where(AccessLog.relative_id == relative.id).order_by(AccessLog.at, AccessLog.id)).all()
    events = session.scalars(
        select(TimelineEvent).where(TimelineEvent.subject_type == "relative",
                                    TimelineEvent.subject_id == relative.id)
        .order_by(TimelineEvent.id)).all()
    return {
        "export": {
            "generated_at": now.isoformat(),
            "generated_by": staff(actor.id),
            "reason": reason[:300],
            "legal_basis": "GDPR art. 15 (right of access)",
        },
        "relative": {
            "id": relative.id, "label": relative.label, "name": relative.name, "phone": relative.phone,
            "relation": relative.relation.value, "is_child": relative.is_child,
            "age_band": relative.age_band.value, "gender": relative.gender.value,
            "language": relative.language, "interpreter_needed": relative.interpreter_needed,
            "preferred_channel": relative.preferred_channel.value,
            "protected_identity": relative.protected_identity, "consent": relative.consent.value,
            "contact_person": staff(relative.contact_person_id),
            "first_contact_at": _iso(relative.first_contact_at), "notes": relative.notes,
            "created_at": _iso(relative.created_at), "updated_at": _iso(relative.updated_at),
            "anonymised_at": _iso(relative.anonymised_at),
            # The person concerned is someone else's data: by label and relation only.
            "related_to": relative.person.label if relative.person else None,
        },
        "incident": {
            "reference": incident.reference, "type": incident.type.value, "status": incident.status.value,
            "occurred_at": _iso(incident.occurred_at), "activated_at": _iso(incident.activated_at),
            "closed_at": _iso(incident.closed_at), "district": incident.district.name,
        },
        "consent_history": [
            {"state": c.state.value, "scope": list(c.scope or []), "method": c.method, "given_by": c.given_by,
             "decided_at": _iso(c.decided_at), "recorded_by": staff(c.recorded_by_id), "note": c.note,
             "created_at": _iso(c.created_at)}
            for c in relative.consent_records
        ],
        "tasks": [
            {"id": t.id, "title": t.title, "category": t.category.value, "agency": t.agency,
             "status": t.status.value, "due_at": _iso(t.due_at), "completed_at": _iso(t.completed_at),
             "owner": staff(t.owner_user_id), "note": t.note, "created_at": _iso(t.created_at)}
            for t in tasks
        ],
        "follow_ups": [
            {"id": f.id, "label": f.label, "channel": f.channel, "status": f.status.value,
             "due_at": _iso(f.due_at), "completed_at": _iso(f.completed_at), "owner": staff(f.owner_user_id),
             "outcome_note": f.outcome_note, "attempts": f.attempts}
            for f in follow_ups
        ],
        "referrals": [
            {"id": r.id, "organisation": r.organisation.name, "status": r.status,
             "referred_at": _iso(r.referred_at), "referred_by": staff(r.referred_by_id), "note": r.note}
            for r in referrals
        ],
        "messages": [
            {"id": m.id, "direction": m.direction.value, "purpose": m.purpose, "status": m.status.value,
             "number": m.counterpart_number, "body": m.body, "created_at": _iso(m.created_at),
             "sent_at": _iso(m.sent_at)}
            for m in messages
        ],
        "access_log": [
            {"at": _iso(a.at), "staff": staff(a.user_id), "action": a.action, "reason": a.reason,
             "assigned": a.assigned}
            for a in accesses
        ],
        "timeline": [
            {"at": _iso(e.occurred_at), "type": e.type, "summary": render_event(e, "sv", session),
             "actor": staff(e.actor_id) if e.actor_id else e.actor_label}
            for e in events
        ],
    }


def find_relatives(session: Session, *, phone: str | None = None, reference: str | None = None,
                   name: str | None = None, limit: int = 50) -> list[Relative]:
    """Relatives matching a number (by its digest), an incident reference, or an exact name.

    Names are encrypted, so a name is compared after decryption, row by row
    (the register holds thousands of relatives, not millions).
    """
    from crisis.core.crypto import keyring

    query = select(Relative).order_by(Relative.id)
    if phone:
        return list(session.scalars(query.where(Relative.phone_digest.in_(keyring.digests(phone))).limit(limit)))
    if reference:
        incident_ids = select(Incident.id).where(Incident.reference == reference.strip().upper())
        return list(session.scalars(query.where(Relative.incident_id.in_(incident_ids)).limit(limit)))
    if name:
        wanted = " ".join(name.split()).casefold()
        found = []
        rows = session.scalars(query.where(Relative.name.is_not(None)).execution_options(yield_per=500))
        for relative in rows:
            if " ".join((relative.name or "").split()).casefold() == wanted:
                found.append(relative)
                if len(found) >= limit:
                    break
        return found
    return []
