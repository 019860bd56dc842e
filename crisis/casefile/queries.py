"""Reading the record back: an incident's timeline for a case review, and the access log
for log review (loggkontroll). Read-only; nothing here writes.

The timeline is the append-only events of the incident, with the access-log
entries of its relatives merged in by time, so that a reviewer sees in one
place what was done and who looked at whose record. Events carry labels
("Anhörig 2"), references and ids, never a relative's name or number; their
sentences are rendered when read (crisis.eventtext.render) and keep it that way. Staff are named: "who did what" is the point
of a case review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, bindparam, case, func, select
from sqlalchemy.orm import Session, aliased

from crisis.auth.models import User
from crisis.core.holidays import STOCKHOLM
from crisis.incidents.models import Incident, IncidentAssignment, Relative
from crisis.timeline.kinds import ACCESS, KINDS, kind_label  # noqa: F401  (the case file's pages and PDF read them here)
from crisis.timeline.models import AccessLog, TimelineEvent

PROCESS_ACTORS = {"system": _l("System"), "scheduler": _l("Scheduler"), "sms": _l("SMS service"),
                  "twilio": _l("SMS provider"), "retention": _l("Retention"),
                  "admin-cli": _l("Administrator (command line)")}
ACCESS_ACTIONS = {
    "view": _l("Opened the record of %(label)s"),
    "export": _l("Exported the record of %(label)s"),
    "call": _l("Called %(label)s from the record"),
    "consent_call": _l("Read the number of %(label)s to call and ask for consent"),
    "data_subject_export": _l("Exported %(label)s's data (request from the data subject)"),
    # Issue 14: the two-person export of a protected identity, and access withdrawn after a dispatch.
    "export_requested": _l("Asked for an extract of %(label)s's data (a second person must approve)"),
    "export_approved": _l("Approved an extract of %(label)s's data"),
    "access_withdrawn": _l("Access to the incident withdrawn: another member took the dispatch"),
    # Issue 16: the outreach worker's phone fetched the record ahead for reading without a connection.
    "offline_copy": _l("Kept the record of %(label)s on their phone for reading without a connection"),
}


def actor_label(label: str) -> str:
    from crisis.core.labels import humanise

    if not label:
        return str(PROCESS_ACTORS["system"])
    return str(PROCESS_ACTORS.get(label) or humanise(label))


def access_summary(action: str, relative_label: str) -> str:
    template = ACCESS_ACTIONS.get(action)
    if template is None:
        return _("%(action)s: the record of %(label)s", action=action, label=relative_label)
    return str(template) % {"label": relative_label}


def deleted_record_label() -> str:
    return _("a removed record")


# -- an incident's timeline ---------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    type: str
    actor: str  # a staff member's name, or the process ("Scheduler")
    summary: str
    concerns: str = ""  # "Anhörig 2", a task's title, a dispatch reference
    flagged: bool = False  # record opened by someone not assigned to the incident
    reason: str | None = None  # given when opening a protected identity's record
    event_id: int | None = None


def timeline_entries(session: Session, incident: Incident, *, kinds: set[str] | None = None,
                     include_access: bool = False, language: str = "sv") -> list[Entry]:
    """Every event of the incident, oldest first; `kinds` narrows it (None: all). Access-log
    entries come in only when `include_access` (they are for log reviewers)."""
    wanted_events = None if kinds is None else kinds - {ACCESS}
    entries: list[Entry] = []
    if wanted_events is None or wanted_events:
        entries.extend(_event_entries(session, incident, wanted_events, language))
    if include_access and (kinds is None or ACCESS in kinds):
        entries.extend(_access_entries(session, incident))
    # Events and access entries interleave by time; within a kind, by id (the order of recording).
    entries.sort(key=lambda e: (e.at, e.kind == ACCESS, e.event_id or 0))
    return entries


def timeline_page(session: Session, incident: Incident, *, kinds: set[str] | None = None,
                  include_access: bool = False, language: str = "sv", offset: int = 0,
                  limit: int = 100) -> tuple[list[Entry], int, int, dict[str, int] | None]:
    """One page of `timeline_entries` (same order), the number of entries in all, how many
    of all are flagged record openings, and (when `kinds` is None: all of them were counted)
    the entries of each kind, as `kind_counts`. Only the page's events are loaded and rendered:
    the order is worked out from (time, id) keys alone, so a page costs the same whatever its length."""
    wanted_events = None if kinds is None else kinds - {ACCESS}
    keys: list[tuple] = []
    counts: dict[str, int] | None = {} if kinds is None else None
    if wanted_events is None or wanted_events:
        if wanted_events is None:
            rows = session.execute(_EVENT_KEYS, {"incident_id": incident.id}).all()
        else:
            rows = session.execute(_EVENT_KEYS_OF_KINDS,
                                   {"incident_id": incident.id, "kinds": sorted(wanted_events)}).all()
        keys.extend((at, False, event_id, True) for at, event_id, _kind in rows)
        if counts is not None:
            for _at, _id, kind in rows:
                counts[kind] = counts.get(kind, 0) + 1
    if include_access and (kinds is None or ACCESS in kinds):
        access = session.execute(_ACCESS_KEYS, {"incident_id": incident.id}).all()
        keys.extend((at, True, access_id, assigned) for at, access_id, assigned in access)
        if counts is not None:
            counts[ACCESS] = len(access)
    keys.sort(key=lambda k: (k[0], k[1], k[2]))
    flagged = sum(1 for k in keys if k[1] and not k[3])
    chosen = keys[offset:offset + limit]
    event_ids = [k[2] for k in chosen if not k[1]]
    access_ids = [k[2] for k in chosen if k[1]]
    entries: list[Entry] = []
    if event_ids:
        entries.extend(_event_entries(session, incident, None, language, ids=event_ids))
    if access_ids:
        entries.extend(_access_entries(session, incident, ids=access_ids))
    entries.sort(key=lambda e: (e.at, e.kind == ACCESS, e.event_id or 0))
    return entries, len(keys), flagged, counts


def kind_counts(session: Session, incident: Incident, *, include_access: bool) -> dict[str, int]:
    counts = dict(session.execute(_KIND_COUNTS, {"incident_id": incident.id}).all())
    if include_access:
        counts[ACCESS] = session.scalar(_ACCESS_COUNT, {"incident_id": incident.id}) or 0
    return counts


# The timeline's statements, built once: SQLAlchemy works out a statement's cache key each time
# one is built, and keeps it on a statement that is used again (issue 15).
_INCIDENT = bindparam("incident_id")
_EVENT_KEYS = select(TimelineEvent.occurred_at, TimelineEvent.id, TimelineEvent.kind).where(
    TimelineEvent.incident_id == _INCIDENT)
_EVENT_KEYS_OF_KINDS = _EVENT_KEYS.where(TimelineEvent.kind.in_(bindparam("kinds", expanding=True)))
_ACCESS_KEYS = select(AccessLog.at, AccessLog.id, AccessLog.assigned).where(AccessLog.incident_id == _INCIDENT)
_KIND_COUNTS = (select(TimelineEvent.kind, func.count()).where(TimelineEvent.incident_id == _INCIDENT)
                .group_by(TimelineEvent.kind))
_ACCESS_COUNT = select(func.count()).select_from(AccessLog).where(AccessLog.incident_id == _INCIDENT)


@cache
def _events_query(by_kinds: bool, by_ids: bool) -> Select:
    query = (select(TimelineEvent, User.name).outerjoin(User, TimelineEvent.actor_id == User.id)
             .where(TimelineEvent.incident_id == _INCIDENT))
    if by_kinds:
        query = query.where(TimelineEvent.kind.in_(bindparam("kinds", expanding=True)))
    if by_ids:
        query = query.where(TimelineEvent.id.in_(bindparam("ids", expanding=True)))
    return query.order_by(TimelineEvent.occurred_at, TimelineEvent.id)


@cache
def _access_query(by_ids: bool) -> Select:
    query = (
        select(AccessLog, User.name, Relative.label)
        .outerjoin(User, AccessLog.user_id == User.id)
        .outerjoin(Relative, AccessLog.relative_id == Relative.id)
        .where(AccessLog.incident_id == _INCIDENT)
    )
    if by_ids:
        query = query.where(AccessLog.id.in_(bindparam("ids", expanding=True)))
    return query.order_by(AccessLog.at, AccessLog.id)


def _event_entries(session: Session, incident: Incident, kinds: set[str] | None, language: str,
                   ids: list[int] | None = None) -> list[Entry]:
    from crisis.eventtext.render import Names, render_events

    params: dict = {"incident_id": incident.id}
    if kinds is not None:
        params["kinds"] = sorted(kinds)
    if ids is not None:
        params["ids"] = ids
    rows = session.execute(_events_query(kinds is not None, ids is not None), params).all()
    # The sentence of each event, rendered now in the reader's language (crisis.eventtext.render);
    # what the events concern is named from the same lookups.
    names = Names(session, language)
    summaries = render_events([event for event, _name in rows], language, session, names=names)
    return [
        Entry(at=event.occurred_at, kind=event.kind, type=event.type,
              actor=name if event.actor_id and name else actor_label(event.actor_label),
              summary=summary, concerns=_concerns(event, incident, names, summary), event_id=event.id)
        for (event, name), summary in zip(rows, summaries, strict=True)
    ]


def _concerns(event: TimelineEvent, incident: Incident, names, summary: str = "") -> str:
    """What the event concerns that its sentence does not already say (a task, a relative, a dispatch)."""
    data = event.data if isinstance(event.data, dict) else {}
    parts: list[str] = []
    task_id = event.subject_id if event.subject_type == "task" else data.get("task_id")
    if task_id:
        parts.append(names.task(task_id))
    relative_id = event.subject_id if event.subject_type == "relative" else data.get("relative_id")
    if relative_id:
        parts.append(names.relative(relative_id))
    if event.subject_type == "dispatch" and event.subject_id:
        parts.append(f"{incident.reference}-{event.subject_id}")
    return " · ".join(part for part in parts if part not in summary)


def _access_entries(session: Session, incident: Incident, ids: list[int] | None = None) -> list[Entry]:
    params: dict = {"incident_id": incident.id}
    if ids is not None:
        params["ids"] = ids
    rows = session.execute(_access_query(ids is not None), params).all()
    return [
        Entry(at=entry.at, kind=ACCESS, type=f"access.{entry.action}",
              actor=name or _("removed account"),
              summary=access_summary(entry.action, label or deleted_record_label()),
              concerns=label or "", flagged=not entry.assigned, reason=entry.reason, event_id=entry.id)
        for entry, name, label in rows
    ]


# -- the access log, for review -------------------------------------------------------------


@dataclass(frozen=True)
class AccessFilter:
    user_id: int | None = None
    incident_id: int | None = None
    start: date | None = None  # Stockholm days, both included
    end: date | None = None
    flagged_only: bool = False


@dataclass(frozen=True)
class AccessRow:
    id: int
    at: datetime
    user_id: int | None
    user_name: str
    relative_id: int | None
    relative_label: str
    protected_identity: bool
    incident_id: int | None
    incident_reference: str
    action: str
    summary: str
    reason: str | None
    flagged: bool  # not assigned to the incident when the record was opened
    assigned_now: bool  # assigned to it today (assignments can come later)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), STOCKHOLM).astimezone(UTC)


def access_log_query(filters: AccessFilter) -> Select:
    query = select(AccessLog)
    if filters.user_id is not None:
        query = query.where(AccessLog.user_id == filters.user_id)
    if filters.incident_id is not None:
        query = query.where(AccessLog.incident_id == filters.incident_id)
    if filters.start is not None:
        query = query.where(AccessLog.at >= _day_start(filters.start))
    if filters.end is not None:
        query = query.where(AccessLog.at < _day_start(filters.end + timedelta(days=1)))
    if filters.flagged_only:
        query = query.where(AccessLog.assigned.is_(False))
    return query


def access_log_totals(session: Session, filters: AccessFilter) -> tuple[int, int]:
    """How many entries match, and how many of them are flagged."""
    matching = access_log_query(filters).subquery()
    total, flagged = session.execute(
        select(func.count(), func.sum(case((matching.c.assigned.is_(False), 1), else_=0)))
        .select_from(matching)
    ).one()
    return int(total or 0), int(flagged or 0)


def access_log_rows(session: Session, filters: AccessFilter, *, offset: int = 0,
                    limit: int | None = 100) -> list[AccessRow]:
    """The matching entries, newest first, with who and which record in words."""
    matching = access_log_query(filters).order_by(AccessLog.at.desc(), AccessLog.id.desc())
    if limit is not None:
        matching = matching.limit(limit)
    matching = matching.offset(offset).subquery()
    entry = aliased(AccessLog, matching)
    assignment = aliased(IncidentAssignment)
    rows = session.execute(
        select(entry, User.name, Relative.label, Relative.protected_identity, Incident.reference,
               assignment.user_id)
        .outerjoin(User, entry.user_id == User.id)
        .outerjoin(Relative, entry.relative_id == Relative.id)
        .outerjoin(Incident, entry.incident_id == Incident.id)
        .outerjoin(assignment, and_(assignment.incident_id == entry.incident_id,
                                    assignment.user_id == entry.user_id))
        .order_by(entry.at.desc(), entry.id.desc())
    ).all()
    return [
        AccessRow(
            id=e.id, at=e.at, user_id=e.user_id, user_name=name or _("removed account"),
            relative_id=e.relative_id, relative_label=label or deleted_record_label(),
            protected_identity=bool(protected), incident_id=e.incident_id, incident_reference=reference or "–",
            action=e.action, summary=access_summary(e.action, label or deleted_record_label()),
            reason=e.reason, flagged=not e.assigned, assigned_now=assigned_user is not None,
        )
        for e, name, label, protected, reference, assigned_user in rows
    ]


def incident_by_reference(session: Session, reference: str) -> Incident | None:
    reference = (reference or "").strip().upper()
    if not reference or len(reference) > 16:
        return None
    return session.scalar(select(Incident).where(func.upper(Incident.reference) == reference))


def users_in_access_log(session: Session) -> list[tuple[int, str]]:
    """Staff who appear in the log, for the filter (everyone who opened any record)."""
    return [(uid, name) for uid, name in session.execute(
        select(User.id, User.name).where(User.id.in_(select(AccessLog.user_id).distinct()))
        .order_by(User.name, User.id)
    )]
