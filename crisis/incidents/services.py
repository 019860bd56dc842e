"""The write side of incidents: activation, facts, persons, relatives, consent, referrals.

Every function changes rows, appends its timeline event and, where a fact
the playbook depends on changed, re-applies the playbook, all in the
caller's transaction (docs/architecture.md "The one write path"). Summaries carry ids, labels and
references only: never a name, phone number or address.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crisis.auth.models import User
from crisis.core.crypto import keyring
from crisis.core.db import utcnow
from crisis.core.errors import ServiceError, StaleRow
from crisis.core.labels import lazy_label
from crisis.incidents.access import assign
from crisis.incidents.models import (
    AffectedPerson,
    AgeBand,
    ConsentRecord,
    ConsentScope,
    ConsentState,
    ContactChannel,
    Gender,
    Incident,
    IncidentAssignment,
    IncidentStatus,
    IncidentType,
    Outcome,
    Relation,
    Relative,
    ThreatLevel,
)
from crisis.organisation.models import District
from crisis.playbooks.engine import (
    PlaybookNotFound,
    apply_playbook,
    find_playbook,
    pin_snapshot,
    playbooks_for,
)
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.timeline.services import changes, record_event

REFERENCE_ALPHABET = "ACDEFHJKLMNPQRTUVWXY3479"  # no look-alikes (0/O, 1/I, 5/S, 8/B)


class IncidentError(ServiceError):
    """Input a service refuses; the message says what to fix (shown to the user)."""


class StaleVersion(IncidentError, StaleRow):
    """Someone else changed the row first."""

    def __init__(self, current_version: int):
        super().__init__(_l("Changed by someone else in the meantime (now version %(version)s); reload and "
                            "apply your change again.", version=current_version))
        self.current_version = current_version


def _enum(enum_cls, value, field: str):
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise IncidentError(f"{field} must be one of: {allowed} (got {value!r}).", field) from None


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise IncidentError(f"{field} needs a time zone (e.g. 2026-11-24T02:10:00+01:00).", field)
    return value


_REFERENCE_TAKEN = select(func.count()).select_from(Incident).where(Incident.reference == bindparam("ref"))


def new_reference(session: Session) -> str:
    for _ in range(20):
        ref = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(5))
        if session.scalar(_REFERENCE_TAKEN, {"ref": ref}) == 0:
            return ref
    raise RuntimeError("could not find a free incident reference")


def activate_incident(
    session: Session,
    *,
    actor: User,
    type: str,
    occurred_at: datetime,
    district_id: int,
    playbook_id: str,
    outcome: str = "none",
    threat_level: str = "normal",
    police_reference: str | None = None,
    place: str = "",
    reported_at: datetime | None = None,
    coordinator_id: int | None = None,
    persons: int = 1,
    death_at: datetime | None = None,
) -> Incident:
    """Register an incident, pin its playbook and lay out every task that applies."""
    incident_type = _enum(IncidentType, type, "type")
    outcome_value = _enum(Outcome, outcome, "outcome")
    threat = _enum(ThreatLevel, threat_level, "threat_level")
    occurred_at = _aware(occurred_at, "occurred_at")
    reported_at = _aware(reported_at, "reported_at")
    now = utcnow()
    if occurred_at > now:
        raise IncidentError(_l("The time of the incident is in the future; give the time it happened."),
                            "occurred_at")
    if reported_at is not None and reported_at < occurred_at:
        raise IncidentError(_l("The report time is before the incident happened."), "reported_at")
    district = session.get(District, district_id)
    if district is None:
        raise IncidentError(f"No district with id {district_id}.", "district_id")
    try:
        playbook = find_playbook(playbook_id)
    except PlaybookNotFound:
        known = ", ".join(p.id for p in playbooks_for(incident_type.value)) or "none"
        raise IncidentError(f"No playbook {playbook_id!r}; for {incident_type.value} use: {known}.",
                            "playbook_id") from None
    if incident_type.value not in playbook.content["applies_to"]:
        raise IncidentError(
            f"Playbook {playbook.id} is for {', '.join(playbook.content['applies_to'])}, not {incident_type.value}.",
            "playbook_id",
        )
    death_at = _aware(death_at, "death_at")
    if death_at is not None and (outcome_value != Outcome.DECEASED or death_at < occurred_at or death_at > now):
        raise IncidentError("death_at needs outcome deceased and a time between the incident and now.", "death_at")
    if not 0 <= persons <= 20:
        raise IncidentError("persons must be between 0 and 20.", "persons")
    coordinator_id = coordinator_id or actor.id
    incident = Incident(
        reference=new_reference(session),
        type=incident_type,
        occurred_at=occurred_at,
        reported_at=reported_at,
        activated_at=now,
        district_id=district.id,
        place=(place or "").strip()[:200],
        outcome=outcome_value,
        police_reference=(police_reference or "").strip() or None,
        threat_level=threat,
        coordinator_id=coordinator_id,
        playbook_snapshot=pin_snapshot(session, playbook),  # held: the engine reads it next
        death_at=death_at,
    )
    session.add(incident)
    session.flush()
    people = [AffectedPerson(incident_id=incident.id, label=f"Person {n}", outcome=outcome_value)
              for n in range(1, persons + 1)]
    session.add_all(people)
    # A new incident: nobody is assigned to it yet (no look-up first, as `assign` does).
    session.add(IncidentAssignment(incident_id=incident.id, user_id=coordinator_id))
    session.flush()
    # Its persons are these and it has no relatives: the engine need not read them back.
    set_committed_value(incident, "persons", people)
    set_committed_value(incident, "relatives", [])
    apply_playbook(session, incident, actor, reason="activation", new_incident=True, event=dict(
        kind="incident", type="incident.activated", actor=actor, incident_id=incident.id,
        subject=incident,
        summary=f"Response {incident.reference} activated ({incident_type.value}, {district.name})",
        data={"reference": incident.reference, "type": incident_type.value, "district_id": district.id,
              "outcome": outcome_value.value, "threat_level": threat.value,
              "playbook": playbook.id, "playbook_version": playbook.version,
              "content_hash": playbook.content_hash},
    ))
    return incident


FACT_FIELDS = ("death_at", "funeral_at", "judgment_at", "threat_level", "status", "outcome",
               "police_reference", "place")


def update_incident(session: Session, incident: Incident, *, actor: User,
                    expected_version: int | None = None, **facts) -> Incident:
    """Change facts learned later; deadlines anchored to them follow."""
    if expected_version is not None and expected_version != incident.version:
        raise StaleVersion(incident.version)
    if incident.withdrawn_at is not None:  # issue 18: a withdrawn plan stays cancelled
        raise IncidentError(_l("Response %(reference)s was withdrawn; it can no longer be changed.",
                                reference=incident.reference))
    unknown = set(facts) - set(FACT_FIELDS)
    if unknown:
        raise IncidentError(f"Cannot change {', '.join(sorted(unknown))}; changeable: {', '.join(FACT_FIELDS)}.")
    before = _fact_snapshot(incident)
    for name in ("death_at", "funeral_at", "judgment_at"):
        if name in facts:
            value = _aware(facts[name], name)
            if value is not None and value < incident.occurred_at and name != "judgment_at":
                raise IncidentError(_l("%(fact)s is before the incident occurred.",
                                        fact=lazy_label("incident_fact", name, capital=True)), name)
            setattr(incident, name, value)
    if "threat_level" in facts:
        incident.threat_level = _enum(ThreatLevel, facts["threat_level"], "threat_level")
    if "outcome" in facts:
        incident.outcome = _enum(Outcome, facts["outcome"], "outcome")
    if "status" in facts:
        status = _enum(IncidentStatus, facts["status"], "status")
        if status == IncidentStatus.CLOSED and incident.status != IncidentStatus.CLOSED:
            incident.closed_at = utcnow()
        elif status != IncidentStatus.CLOSED:
            incident.closed_at = None
        incident.status = status
    if "police_reference" in facts:
        incident.police_reference = (facts["police_reference"] or "").strip()[:64] or None
    if "place" in facts:
        incident.place = (facts["place"] or "").strip()[:200]
    if incident.outcome == Outcome.DECEASED or incident.death_at is not None:
        incident.outcome = Outcome.DECEASED
    diff = changes(before, _fact_snapshot(incident))
    if not diff:
        return incident
    apply_playbook(session, incident, actor, reason="facts:" + ",".join(sorted(diff)), event=dict(
        kind="incident", type="incident.updated", actor=actor, incident_id=incident.id,
        subject=incident, summary=f"Facts changed: {', '.join(sorted(diff))}", data=diff,
    ))
    return incident


def _fact_snapshot(incident: Incident) -> dict:
    def iso(value):
        return value.isoformat() if isinstance(value, datetime) else value

    return {
        "death_at": iso(incident.death_at), "funeral_at": iso(incident.funeral_at),
        "judgment_at": iso(incident.judgment_at), "threat_level": incident.threat_level.value,
        "status": incident.status.value, "outcome": incident.outcome.value,
        "police_reference_set": incident.police_reference is not None, "place": incident.place,
    }


def add_person(session: Session, incident: Incident, *, actor: User, outcome: str = "injured",
               death_at: datetime | None = None, gender: str = "unknown", age_band: str = "unknown",
               case_worker_id: int | None = None, name: str | None = None) -> AffectedPerson:
    if case_worker_id is not None and session.get(User, case_worker_id) is None:
        raise IncidentError(_l("No staff member with id %(id)s.", id=case_worker_id), "case_worker_id")
    person = AffectedPerson(
        incident_id=incident.id, label=f"Person {len(incident.persons) + 1}",
        outcome=_enum(Outcome, outcome, "outcome"), death_at=_aware(death_at, "death_at"),
        gender=_enum(Gender, gender, "gender"), age_band=_enum(AgeBand, age_band, "age_band"),
        case_worker_id=case_worker_id, name=(name or "").strip() or None,
    )
    session.add(person)
    session.flush()
    if person.outcome == Outcome.DECEASED and incident.outcome != Outcome.DECEASED:
        incident.outcome = Outcome.DECEASED
    apply_playbook(session, incident, actor, reason="person_added", event=dict(
        kind="incident", type="person.added", actor=actor, incident_id=incident.id,
        subject=person, summary=f"{person.label} added ({person.outcome.value})",
        data={"person_id": person.id, "outcome": person.outcome.value},
    ))
    return person


def set_person_case_worker(session: Session, person: AffectedPerson, *, actor: User,
                           case_worker_id: int | None) -> None:
    """Record that the person concerned is a client of social services, and whose."""
    if case_worker_id is not None and session.get(User, case_worker_id) is None:
        raise IncidentError(_l("No staff member with id %(id)s.", id=case_worker_id), "case_worker_id")
    for relative in person.incident.relatives:
        if relative.person_id == person.id and case_worker_id and relative.contact_person_id == case_worker_id:
            raise IncidentError(
                _l("That case worker is already contact person for %(label)s; change the relative's contact "
                   "person first (a relative must not get the case worker of the person concerned).",
                   label=relative.label),
                "case_worker_id",
            )
    person.case_worker_id = case_worker_id
    record_event(session, kind="incident", type="person.case_worker_set", actor=actor,
                 incident_id=person.incident_id, subject=person,
                 summary=f"Case worker recorded for {person.label}",
                 data={"person_id": person.id, "case_worker_id": case_worker_id})


def add_relative(
    session: Session,
    incident: Incident,
    *,
    actor: User,
    relation: str,
    is_child: bool | None = None,
    age_band: str = "unknown",
    gender: str = "unknown",
    language: str = "sv",
    interpreter_needed: bool = False,
    phone: str | None = None,
    name: str | None = None,
    protected_identity: bool = False,
    preferred_channel: str = "phone",
    person_id: int | None = None,
    contact_person_id: int | None = None,
    notes: str | None = None,
) -> Relative:
    from crisis.auth.services import AccountError, normalise_phone

    if incident.withdrawn_at is not None:  # issue 18: a withdrawn plan stays cancelled
        raise IncidentError(_l("Response %(reference)s was withdrawn; it can no longer be changed.",
                                reference=incident.reference))
    relation_value = _enum(Relation, relation, "relation")
    band = _enum(AgeBand, age_band, "age_band")
    if is_child is None:
        # A child's age band says it (issue 18): nobody has to tick both.
        is_child = band in (AgeBand.CHILD_0_12, AgeBand.CHILD_13_17)
    if is_child and band not in (AgeBand.CHILD_0_12, AgeBand.CHILD_13_17, AgeBand.UNKNOWN):
        raise IncidentError(_l("A child relative needs the age band 0-12, 13-17 or unknown."), "age_band")
    if not is_child and band in (AgeBand.CHILD_0_12, AgeBand.CHILD_13_17):
        raise IncidentError(_l("An adult relative cannot have a child age band; tick 'child' or change it."),
                            "age_band")
    language = (language or "sv").strip().lower()
    if not (2 <= len(language) <= 8 and language.replace("-", "").isalpha()):
        raise IncidentError(_l("The language must be a language code such as sv, en, ar, so, ti."), "language")
    try:
        phone = normalise_phone(phone)
    except AccountError as exc:
        raise IncidentError(str(exc), "phone") from None
    if person_id is not None and person_id not in {p.id for p in incident.persons}:
        raise IncidentError(_l("Person %(id)s does not belong to this incident.", id=person_id), "person_id")
    label = f"Anhörig {len(incident.relatives) + 1}"
    relative = Relative(
        incident_id=incident.id, person_id=person_id, label=label, name=(name or "").strip() or None,
        phone=phone, phone_digest=keyring.digest(phone) if phone else None, relation=relation_value,
        is_child=is_child, age_band=band, gender=_enum(Gender, gender, "gender"), language=language,
        interpreter_needed=interpreter_needed, protected_identity=protected_identity,
        preferred_channel=_enum(ContactChannel, preferred_channel, "preferred_channel"),
        notes=(notes or "").strip() or None,
    )
    session.add(relative)
    session.flush()
    if contact_person_id is not None:
        _check_contact_person(session, relative, contact_person_id)
        relative.contact_person_id = contact_person_id
        assign(session, contact_person_id, incident.id)
    apply_playbook(session, incident, actor, reason="relative_added", event=dict(
        kind="relative", type="relative.added", actor=actor, incident_id=incident.id,
        subject=relative, summary=f"{label} added ({relation_value.value}{', child' if is_child else ''})",
        data={"relative_id": relative.id, "relation": relation_value.value, "is_child": is_child,
              "language": language, "interpreter_needed": interpreter_needed,
              "protected_identity": protected_identity},
    ))
    return relative


def _check_contact_person(session: Session, relative: Relative, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise IncidentError(_l("No active staff member with id %(id)s.", id=user_id), "contact_person_id")
    # Seed 000, "Råd och stöd": "Om en person är aktuell inom socialtjänsten
    # bör inte samma handläggare utses för personens anhörige."
    persons = [relative.person] if relative.person is not None else relative.incident.persons
    for person in persons:
        if person is not None and person.case_worker_id == user_id:
            raise IncidentError(
                _l("%(name)s is the case worker of %(person)s, the person concerned; a relative must not get "
                   "the same case worker. Choose another contact person.", name=user.name, person=person.label),
                "contact_person_id",
            )
    return user


def set_contact_person(session: Session, relative: Relative, *, actor: User, user_id: int | None) -> None:
    before = relative.contact_person_id
    if user_id is not None:
        _check_contact_person(session, relative, user_id)
        assign(session, user_id, relative.incident_id)
    relative.contact_person_id = user_id
    record_event(session, kind="relative", type="relative.contact_person_set", actor=actor,
                 incident_id=relative.incident_id, subject=relative,
                 summary=f"Contact person for {relative.label} {'set' if user_id else 'removed'}",
                 data={"relative_id": relative.id, "before": before, "after": user_id})


def record_consent(
    session: Session,
    relative: Relative,
    *,
    actor: User,
    state: str,
    scope: list[str] | None = None,
    decided_at: datetime | None = None,
    method: str = "verbal",
    given_by: str = "relative",
    note: str | None = None,
) -> ConsentRecord:
    """Record samtycke: who consented to what, when (docs/domain.md "Consent")."""
    if relative.incident.withdrawn_at is not None:  # issue 18: a withdrawn plan stays cancelled
        raise IncidentError(_l("The response was withdrawn; consent can no longer be recorded here."))
    consent = _enum(ConsentState, state, "state")
    if consent == ConsentState.UNKNOWN:
        raise IncidentError("state must be given, declined or withdrawn.", "state")
    scopes = [_enum(ConsentScope, s, "scope").value for s in (scope or [ConsentScope.CONTACT.value])]
    if consent == ConsentState.GIVEN and ConsentScope.CONTACT.value not in scopes:
        raise IncidentError(_l("Consent that is given must at least cover contact."), "scope")
    if method not in ("verbal", "written"):
        raise IncidentError("method must be verbal or written.", "method")
    if given_by not in ("relative", "guardian"):
        raise IncidentError("given_by must be relative or guardian.", "given_by")
    if relative.is_child and consent == ConsentState.GIVEN and given_by != "guardian":
        raise IncidentError(_l("For a child, consent is given by the guardian (vårdnadshavare)."), "given_by")
    decided_at = _aware(decided_at, "decided_at") or utcnow()
    if decided_at > utcnow():
        raise IncidentError(_l("The time of the decision is in the future."), "decided_at")
    record = ConsentRecord(
        relative_id=relative.id, state=consent, scope=scopes, method=method, given_by=given_by,
        decided_at=decided_at, recorded_by_id=actor.id, note=(note or "").strip() or None,
    )
    session.add(record)
    before = relative.consent
    relative.consent = consent
    apply_playbook(session, relative.incident, actor, reason="consent", event=dict(
        kind="relative", type="relative.consent_recorded", actor=actor,
        incident_id=relative.incident_id, subject=relative,
        summary=f"Consent {consent.value} for {relative.label} ({', '.join(scopes)})",
        data={"relative_id": relative.id, "before": before.value, "after": consent.value,
              "scope": scopes, "method": method, "given_by": given_by,
              "decided_at": decided_at.isoformat()},
    ))
    return record


def consent_covers(relative: Relative, scope: str) -> bool:
    """Does the relative's latest decision allow `scope` (e.g. sms, share_with_school)?"""
    if relative.consent != ConsentState.GIVEN or not relative.consent_records:
        return False
    return scope in relative.consent_records[-1].scope


def record_first_contact(session: Session, relative: Relative, *, actor: User,
                         at: datetime | None = None) -> bool:
    """The first time staff reached the relative (anchor `first_contact`); True if new."""
    if relative.first_contact_at is not None:
        return False
    at = _aware(at, "at") or utcnow()
    relative.first_contact_at = at
    apply_playbook(session, relative.incident, actor, reason="first_contact", event=dict(
        kind="relative", type="relative.first_contact", actor=actor,
        incident_id=relative.incident_id, subject=relative,
        summary=f"First contact with {relative.label}",
        data={"relative_id": relative.id, "at": at.isoformat()},
    ))
    return True


def refer(session: Session, relative: Relative, *, actor: User, organisation_code: str,
          note: str | None = None) -> Referral:
    """Refer a relative on (lotsa vidare, seed 000), with consent to pass details on."""
    organisation = session.scalar(
        select(SupportOrganisation).where(SupportOrganisation.code == organisation_code,
                                          SupportOrganisation.active.is_(True))
    )
    if organisation is None:
        raise IncidentError(_l("No support organisation %(code)s.", code=repr(organisation_code)), "organisation")
    if not consent_covers(relative, ConsentScope.REFERRAL.value):
        raise IncidentError(
            _l("%(label)s has not consented to referral; record consent that covers referral first.",
               label=relative.label),
            "organisation",
        )
    referral = Referral(relative_id=relative.id, organisation_id=organisation.id, referred_by_id=actor.id,
                        status="made", note=(note or "").strip() or None)
    session.add(referral)
    session.flush()
    record_event(session, kind="relative", type="relative.referred", actor=actor,
                 incident_id=relative.incident_id, subject=relative,
                 summary=f"{relative.label} referred to {organisation.name}",
                 data={"relative_id": relative.id, "organisation": organisation.code,
                       "referral_id": referral.id})
    return referral
