"""The write side of dispatch: alert, acknowledge, escalate, cancel.

A coordinator sends a team or named staff to an incident or a visit
(docs/architecture.md "The job", step 2). Each alert is an SMS from the playbook's
template in the recipient's language, carrying the dispatch reference and a
link, never a name (docs/architecture.md "Sensitive data stays in the system"); it is a
row in the SMS outbox written in the same transaction as the dispatch.

Escalation follows the on-call order: a team dispatch alerts the first
available member; with no acknowledgement within the playbook's window
(`escalation.dispatch_ack_within`) the next member is alerted, then the
coordinator (`escalation.escalate_to`). An alert that cannot be delivered
(failed, undelivered, expired, or the person opted out) escalates at once
instead of waiting out the window. Every step is a timeline event, so the
dashboard and the timeline show the same thing.

Escalations are exclusive by a conditional update on (status, level), so a
second scheduler started by mistake escalates nothing twice.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import logging
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crisis.auth.models import Availability, Role, User, UserRole
from crisis.core.db import utcnow
from crisis.dispatch.models import Dispatch, DispatchAttempt, DispatchStatus
from crisis.dispatch.order import alert_order, on_call_problem
from crisis.incidents.access import is_assigned
from crisis.incidents.models import IncidentAssignment
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.services import (
    NOT_DELIVERED,
    SmsRefused,
    queue_sms,
    queue_sms_many,
    sms_refusal_for_user,
    sms_refusals_for_users,
    withdraw_queued,
)
from crisis.messaging.texts import system_text
from crisis.playbooks.durations import DurationError, parse_duration
from crisis.push import services as push
from crisis.timeline.services import record_event, record_events

log = logging.getLogger(__name__)

PURPOSES = ("incident", "visit")
ACK_CHANNELS = ("sms", "link", "app", "api", "push")
DEFAULT_ACK_WINDOW = timedelta(minutes=10)
DEFAULT_ESCALATE_TO = ("next_in_team", "coordinator")
# An alert is worth delivering while someone can still act on it; the
# validity of its SMS is the acknowledgement window, within these bounds.
MIN_ALERT_VALIDITY = timedelta(minutes=1)
MAX_ALERT_VALIDITY = timedelta(hours=1)

# Used only when a pinned playbook lacks a template (older snapshots).
_FALLBACK_TEMPLATES: Mapping[str, Mapping[str, str]] = {
    "dispatch": {"sv": "Larm {ref}: {kind}. Bekräfta: {link}",
                 "en": "Alert {ref}: {kind}. Acknowledge: {link}"},
    "dispatch_escalation": {"sv": "Obekräftat larm {ref}: {kind}. Du är nästa i tur. Bekräfta: {link}",
                            "en": "Unacknowledged alert {ref}: {kind}. You are next in line. Acknowledge: {link}"},
}
_TYPE_LABELS: Mapping[str, Mapping[str, str]] = {
    "shooting": {"sv": "skjutning", "en": "shooting"},
    "lethal_violence": {"sv": "dödligt våld", "en": "lethal violence"},
    "threat_against_relatives": {"sv": "hot mot anhöriga", "en": "threats against relatives"},
}
_VISIT_LABEL = {"sv": "besök", "en": "visit"}


class DispatchError(ValueError):
    """A dispatch that cannot be made as asked; the message says what to change."""


class AckOutcome(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already_acknowledged"
    CLOSED = "closed"  # cancelled
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class Alerted:
    user: User
    message: Message | None
    refusal: SmsRefused | None  # why no SMS could be sent


# -- the playbook's rules --------------------------------------------------------------


def _escalation_settings(incident) -> Mapping:
    content = incident.playbook_snapshot.content if incident.playbook_snapshot else {}
    return (content or {}).get("escalation") or {}


def ack_window(incident) -> timedelta:
    """The playbook's `escalation.dispatch_ack_within` (10 minutes if it says nothing)."""
    text = _escalation_settings(incident).get("dispatch_ack_within")
    if not text:
        return DEFAULT_ACK_WINDOW
    try:
        duration = parse_duration(text)
    except DurationError:
        log.warning("incident %s: unreadable dispatch_ack_within %r; using 10m", incident.id, text)
        return DEFAULT_ACK_WINDOW
    return duration.nominal_length


def escalation_targets(incident) -> tuple[str, ...]:
    targets = _escalation_settings(incident).get("escalate_to")
    return tuple(targets) if targets else DEFAULT_ESCALATE_TO


def alert_validity(incident) -> timedelta:
    return min(max(ack_window(incident), MIN_ALERT_VALIDITY), MAX_ALERT_VALIDITY)


# -- links and texts ---------------------------------------------------------------------


def ack_token(dispatch: Dispatch) -> str:
    """The unguessable part of the link in the alert.

    Derived, not stored: each escalation's SMS carries the same link without
    the database keeping a usable secret (only its hash, to look it up).
    """
    secret = current_app.config["SECRET_KEY"].encode()
    material = f"dispatch-ack:{dispatch.incident.reference}:{dispatch.id}".encode()
    digest = hmac.new(secret, material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ack_link(dispatch: Dispatch) -> str:
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return f"{base}/d/{ack_token(dispatch)}"


def find_by_token(session: Session, token: str) -> Dispatch | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Dispatch).where(Dispatch.ack_token_hash == token_hash(token)))


def kind_label(dispatch: Dispatch, language: str) -> str:
    incident_type = str(getattr(dispatch.incident.type, "value", dispatch.incident.type))
    labels = _TYPE_LABELS.get(incident_type, {})
    label = labels.get(language) or labels.get("sv") or incident_type
    if dispatch.purpose == "visit":
        return f"{_VISIT_LABEL.get(language, _VISIT_LABEL['sv'])} ({label})"
    return label


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Fill plain {name} placeholders; anything else stays text.

    The loader has already refused templates with unknown placeholders or
    attribute access; filling by hand keeps even an unchecked snapshot
    from reaching into objects.
    """
    out = []
    try:
        for literal, name, _spec, _conversion in string.Formatter().parse(template):
            out.append(literal)
            if name is not None:
                out.append(values.get(name, "{" + name + "}"))
    except ValueError:
        return template
    return "".join(out)


def alert_text(dispatch: Dispatch, kind: str, language: str) -> str:
    """The alert SMS from the incident's pinned playbook, in `language` (Swedish if missing)."""
    content = dispatch.incident.playbook_snapshot.content or {}
    templates = (content.get("messages") or {}).get(kind) or _FALLBACK_TEMPLATES[kind]
    template = templates.get(language) or templates.get("sv") or _FALLBACK_TEMPLATES[kind]["sv"]
    return fill_template(template, {
        "ref": dispatch.reference,
        "link": ack_link(dispatch),
        "kind": kind_label(dispatch, language),
    })


def alert_path(dispatch: Dispatch) -> str:
    """The alert's link without the host: what a push opens (on the site that sent it)."""
    return f"/d/{ack_token(dispatch)}"


def push_content(dispatch: Dispatch, kind: str, language: str) -> dict:
    """What the alert's push shows: the SMS's reference, kind and link, no more (crisis.push)."""
    return push.alert_content(ref=dispatch.reference, kind_text=kind_label(dispatch, language),
                              url=alert_path(dispatch), language=language,
                              escalation=kind == "dispatch_escalation")


def push_hold_until(incident, now: datetime) -> datetime:
    """Until when an alert's SMS waits for its push to be acknowledged (the escalation deadline
    does not move: the hold is at most half the acknowledgement window)."""
    return now + push.fallback_window(ack_window(incident))


# -- who is alerted ------------------------------------------------------------------------------


def _team_candidates(dispatch: Dispatch) -> list[User]:
    if dispatch.team is None:
        return []
    order = alert_order(dispatch.team)  # the person on call first (issue 12)
    if dispatch.user_id is not None:
        # A named person's dispatch continues with the team after them.
        ids = [u.id for u in order]
        if dispatch.user_id in ids:
            at = ids.index(dispatch.user_id)
            order = order[at + 1:] + order[:at]
        order = [u for u in order if u.id != dispatch.user_id]
    return order


def _next_team_member(session: Session, dispatch: Dispatch) -> tuple[User | None, list[dict]]:
    alerted = {a.user_id for a in dispatch.attempts}
    skipped = []
    for user in _team_candidates(dispatch):
        if user.id in alerted:
            continue
        refusal = sms_refusal_for_user(session, user)
        if refusal is not None:
            skipped.append({"user_id": user.id, "reason": refusal.reason})
            continue
        return user, skipped
    return None, skipped


def incident_coordinators(session: Session, incident) -> list[User]:
    """Who is told when nobody acknowledges: the incident's coordinator, else the SIG's."""
    if incident.coordinator is not None and incident.coordinator.active:
        return [incident.coordinator]
    coordinators = select(User).join(UserRole).where(UserRole.role == Role.COORDINATOR, User.active.is_(True))
    district = incident.district
    sig = district.sig_district if district is not None else None
    if sig is not None:
        # Seed 003: a district without SIG buys it from another; that SIG coordinates.
        local = session.scalars(coordinators.where(User.district_id == sig.id).order_by(User.id)).all()
        if local:
            return list(local)
    return list(session.scalars(coordinators.order_by(User.id)).all())


def _alert(session: Session, dispatch: Dispatch, users: Iterable[User], *, level: int, kind: str,
           now: datetime, refusals: Mapping[int, SmsRefused | None] | None = None,
           assigned: set[int] | None = None) -> list[Alerted]:
    """Alert `users` at `level`: access to the incident, an attempt row and (if possible) an SMS.

    `refusals` and `assigned` may be looked up once by a caller alerting many.
    """
    incident = dispatch.incident
    users = list(users)
    refusals = refusals if refusals is not None else sms_refusals_for_users(session, users)
    if assigned is None:
        assigned = assigned_user_ids(session, incident.id)
    alerted = []
    # Push first where the person has a device for it (issue 16): the SMS is written now, held.
    by_push = push.push_ready_users(session, [u.id for u in users if refusals.get(u.id) is None])
    held_until = push_hold_until(incident, now) if by_push else None
    for user in users:
        if user.id not in assigned:
            # The link must open for them (issue 9's access matrix).
            session.add(IncidentAssignment(incident_id=incident.id, user_id=user.id, via_dispatch_id=dispatch.id))
            assigned.add(user.id)
        refusal = refusals.get(user.id)
        message = None
        if refusal is None:
            language = user.language or "sv"
            hold = held_until if user.id in by_push else None
            message = queue_sms(
                session, to=user.phone, body=alert_text(dispatch, kind, language), purpose=kind,
                language=language, incident_id=incident.id, dispatch_id=dispatch.id,
                recipient_user_id=user.id, validity=alert_validity(incident),
                idempotency_key=f"dispatch:{dispatch.id}:level:{level}:user:{user.id}", now=now,
                respect_opt_out=False,  # just checked, with the other recipients
                not_before=hold,
            )
            if hold is not None:
                push.hold_for_push(session, dispatch_id=dispatch.id, user_id=user.id, level=level, kind=kind,
                                   message=message, content=push_content(dispatch, kind, language),
                                   held_until=hold, now=now)
        dispatch.attempts.append(DispatchAttempt(level=level, user_id=user.id, message=message, created_at=now))
        alerted.append(Alerted(user, message, refusal))
    return alerted


def assigned_user_ids(session: Session, incident_id: int) -> set[int]:
    return set(session.scalars(select(IncidentAssignment.user_id).where(IncidentAssignment.incident_id == incident_id)))


def _alert_data(alerted: list[Alerted]) -> dict:
    return {
        "alerted": [a.user.id for a in alerted],
        "message_ids": [a.message.id for a in alerted if a.message is not None],
        "no_sms": {str(a.user.id): a.refusal.reason for a in alerted if a.refusal is not None},
    }


# -- dispatching -----------------------------------------------------------------------------------


def _check_target(session: Session, incident, purpose: str, task) -> None:
    from crisis.incidents.models import IncidentStatus

    if purpose not in PURPOSES:
        raise DispatchError(f"purpose must be one of: {', '.join(PURPOSES)}.")
    if incident.status == IncidentStatus.CLOSED:
        raise DispatchError(_l("Incident %(ref)s is closed; reopen it before dispatching.", ref=incident.reference))
    if task is not None and task.incident_id != incident.id:
        raise DispatchError(_l("That task belongs to another incident."))
    if purpose == "visit" and task is None:
        raise DispatchError(_l("A dispatch to a visit names the visit's task."))


def _new_dispatch(session: Session, incident, *, purpose: str, task, team, user, actor, now: datetime) -> Dispatch:
    dispatch = Dispatch(
        incident_id=incident.id, incident=incident, purpose=purpose,
        task_id=task.id if task is not None else None,
        team_id=team.id if team is not None else None, team=team,
        user_id=user.id if user is not None else None, user=user,
        status=DispatchStatus.PENDING, escalation_level=0,
        created_by_id=getattr(actor, "id", None), created_at=now,
    )
    session.add(dispatch)
    session.flush()
    dispatch.ack_token_hash = token_hash(ack_token(dispatch))
    return dispatch


def dispatch_team(session: Session, *, incident, team, actor, purpose: str = "incident", task=None,
                  now: datetime | None = None) -> Dispatch:
    """Alert the first reachable person in the team's on-call order."""
    now = now or utcnow()
    _check_target(session, incident, purpose, task)
    if not team.members:
        raise DispatchError(_l("Team %(team)s has no members.", team=team.name))
    dispatch = _new_dispatch(session, incident, purpose=purpose, task=task, team=team, user=None,
                             actor=actor, now=now)
    first, skipped = _next_team_member(session, dispatch)
    if first is None:
        # Nobody in the team can get an SMS: straight to the coordinator.
        record_event(
            session, kind="dispatch", type="dispatch.created", actor=actor, incident_id=incident.id,
            subject=dispatch, summary=f"Dispatch {dispatch.reference} ({purpose}) to team {team.id}: "
                                      "nobody in the team can be alerted by SMS",
            data={**_dispatch_data(dispatch), "skipped": skipped},
        )
        dispatch.unreachable_reason = "nobody_reachable"
        _escalate_to_coordinator(session, dispatch, level=0, reason="nobody_reachable", now=now)
        return dispatch
    alerted = _alert(session, dispatch, [first], level=0, kind="dispatch", now=now)
    dispatch.ack_deadline_at = now + ack_window(incident)
    record_event(
        session, kind="dispatch", type="dispatch.created", actor=actor, incident_id=incident.id,
        subject=dispatch, summary=f"Dispatch {dispatch.reference} ({purpose}) to team {team.id}: "
                                  f"staff {first.id} alerted",
        data={**_dispatch_data(dispatch), **_alert_data(alerted), "skipped": skipped},
    )
    _alert_coordinator_if_on_call_unreachable(session, dispatch, now)
    return dispatch


def _alert_coordinator_if_on_call_unreachable(session: Session, dispatch: Dispatch, now: datetime) -> None:
    """Issue 12: nobody on call reachable → the coordinator hears at once (crisis.oncall.dispatch_order)."""

    on_call, reason = on_call_problem(session, dispatch.team, now)
    if on_call is not None and reason is not None:
        alert_coordinator_now(session, dispatch, reason=f"on_call_{reason}", now=now, user_id=on_call.id)


def dispatch_staff(session: Session, *, incident, users: Iterable[User], actor, purpose: str = "incident",
                   task=None, escalation_team=None, now: datetime | None = None) -> list[Dispatch]:
    """One dispatch per named person, each acknowledged and escalated on its own.

    `escalation_team`: whose on-call order follows when the person does not
    answer; without it silence goes straight to the coordinator.
    """
    now = now or utcnow()
    _check_target(session, incident, purpose, task)
    people = list(dict.fromkeys(users))
    if not people:
        raise DispatchError(_l("Choose at least one person to dispatch."))
    inactive = [u.id for u in people if not u.active]
    if inactive:
        raise DispatchError(f"Staff {', '.join(map(str, inactive))} are deactivated and cannot be dispatched.")
    refusals = sms_refusals_for_users(session, people)
    assigned = assigned_user_ids(session, incident.id)
    # The database work is constant in statements whatever the number of
    # people: the dispatches, assignments, texts, attempts and events are
    # written one multi-row INSERT each.
    session.flush()
    # Matched back by person (one dispatch each): sort_by_parameter_order
    # would make SQLite insert row by row.
    made = {d.user_id: d for d in session.scalars(
        insert(Dispatch).returning(Dispatch),
        [dict(incident_id=incident.id, purpose=purpose, task_id=task.id if task is not None else None,
              team_id=escalation_team.id if escalation_team is not None else None, user_id=user.id,
              status=DispatchStatus.PENDING, escalation_level=0, created_by_id=getattr(actor, "id", None),
              created_at=now)
         for user in people],
    )}
    dispatches = [made[user.id] for user in people]
    deadline = now + ack_window(incident)
    for dispatch, user in zip(dispatches, people, strict=True):
        set_committed_value(dispatch, "incident", incident)
        set_committed_value(dispatch, "user", user)
        set_committed_value(dispatch, "team", escalation_team)
        dispatch.ack_token_hash = token_hash(ack_token(dispatch))
        dispatch.ack_deadline_at = deadline
    new_assignments = [u.id for u in people if u.id not in assigned]
    if new_assignments:
        # The link must open for them (issue 9's access matrix).
        session.execute(insert(IncidentAssignment),
                        [{"incident_id": incident.id, "user_id": uid, "assigned_at": now} for uid in new_assignments])
        assigned.update(new_assignments)
    reachable = [(d, u) for d, u in zip(dispatches, people, strict=True) if refusals.get(u.id) is None]
    validity = alert_validity(incident)
    # Push first where the person has a device for it (issue 16): the SMS is written now, held.
    by_push = push.push_ready_users(session, [u.id for _d, u in reachable])
    held_until = push_hold_until(incident, now) if by_push else None
    queued = queue_sms_many(session, [
        dict(to=u.phone, body=alert_text(d, "dispatch", u.language or "sv"), purpose="dispatch",
             language=u.language or "sv", incident_id=incident.id, dispatch_id=d.id, recipient_user_id=u.id,
             validity=validity, idempotency_key=f"dispatch:{d.id}:level:0:user:{u.id}",
             not_before=held_until if u.id in by_push else None,
             respect_opt_out=False)  # just checked, with the other recipients
        for d, u in reachable
    ], now=now, objects=True)
    messages: dict[int, Message | None] = {}
    for (dispatch, user), outcome in zip(reachable, queued, strict=True):
        if isinstance(outcome, SmsRefused):
            refusals[user.id] = outcome
        else:
            messages[dispatch.id] = outcome
            if user.id in by_push:
                language = user.language or "sv"
                push.hold_for_push(session, dispatch_id=dispatch.id, user_id=user.id, level=0, kind="dispatch",
                                   message=outcome, content=push_content(dispatch, "dispatch", language),
                                   held_until=held_until, now=now)
    by_dispatch = {a.dispatch_id: a for a in session.scalars(
        insert(DispatchAttempt).returning(DispatchAttempt),
        [dict(dispatch_id=d.id, level=0, user_id=u.id, created_at=now,
              message_id=messages[d.id].id if messages.get(d.id) is not None else None)
         for d, u in zip(dispatches, people, strict=True)],
    )}
    attempts = [by_dispatch[d.id] for d in dispatches]
    events = []
    for dispatch, user, attempt in zip(dispatches, people, attempts, strict=True):
        message = messages.get(dispatch.id)
        set_committed_value(attempt, "message", message)
        set_committed_value(dispatch, "attempts", [attempt])
        alerted = [Alerted(user, message, refusals.get(user.id) if message is None else None)]
        how = "alerted" if message is not None else f"not reachable by SMS ({alerted[0].refusal.reason})"
        events.append(dict(
            kind="dispatch", type="dispatch.created", actor=actor, incident_id=incident.id,
            subject=dispatch.id, summary=f"Dispatch {dispatch.reference} ({purpose}) to staff {user.id}: {how}",
            data={**_dispatch_data(dispatch), **_alert_data(alerted)},
        ))
    session.flush()  # the token hashes and deadlines: one executemany UPDATE
    record_events(session, events)
    # Issue 12: opted out, no phone or off duty → the coordinator is told at once, not after the window.
    for dispatch, user in zip(dispatches, people, strict=True):
        refusal = refusals.get(user.id)
        reason = refusal.reason if refusal is not None else (
            "off_duty" if user.availability == Availability.OFF_DUTY else None)
        if reason is not None:
            dispatch.unreachable_reason = reason
            _escalate_to_coordinator(session, dispatch, level=1, reason=reason, now=now)
    return dispatches


def _dispatch_data(dispatch: Dispatch) -> dict:
    return {
        "dispatch_id": dispatch.id, "ref": dispatch.reference, "purpose": dispatch.purpose,
        "team_id": dispatch.team_id, "user_id": dispatch.user_id, "task_id": dispatch.task_id,
        "status": dispatch.status.value, "level": dispatch.escalation_level,
        "ack_deadline_at": dispatch.ack_deadline_at.isoformat() if dispatch.ack_deadline_at else None,
    }


# -- escalation ------------------------------------------------------------------------------------


def escalate_due_dispatches(session: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """Escalate every pending dispatch whose acknowledgement window has passed (scheduler job)."""
    now = now or utcnow()
    due = session.scalars(
        select(Dispatch)
        .where(Dispatch.status == DispatchStatus.PENDING, Dispatch.ack_deadline_at.is_not(None),
               Dispatch.ack_deadline_at <= now)
        .order_by(Dispatch.ack_deadline_at, Dispatch.id)
        .limit(limit)
    ).all()
    escalated = 0
    for dispatch in due:
        try:
            if escalate_dispatch(session, dispatch, reason="no_acknowledgement", now=now):
                escalated += 1
            session.commit()
        except Exception:
            session.rollback()
            log.exception("escalating dispatch %s failed; retried next sweep", dispatch.id)
    return escalated


def escalate_dispatch(session: Session, dispatch: Dispatch, *, reason: str, now: datetime | None = None) -> bool:
    """Alert the next person (or the coordinator); False if someone else already did."""
    now = now or utcnow()
    level = dispatch.escalation_level
    # Exclusive: only the caller whose update matches (pending, this level) escalates.
    taken = session.execute(
        update(Dispatch)
        .where(Dispatch.id == dispatch.id, Dispatch.status == DispatchStatus.PENDING,
               Dispatch.escalation_level == level)
        .values(escalation_level=level + 1)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not taken:
        return False
    next_level = level + 1
    targets = escalation_targets(dispatch.incident)
    skipped: list[dict] = []
    if "next_in_team" in targets:
        person, skipped = _next_team_member(session, dispatch)
        if person is not None:
            alerted = _alert(session, dispatch, [person], level=next_level, kind="dispatch_escalation", now=now)
            dispatch.ack_deadline_at = now + ack_window(dispatch.incident)
            record_event(
                session, kind="dispatch", type="dispatch.escalated", actor="scheduler",
                incident_id=dispatch.incident_id, subject=dispatch,
                summary=f"Dispatch {dispatch.reference} escalated to staff {person.id} "
                        f"(level {next_level}, {_reason_text(reason)})",
                data={**_dispatch_data(dispatch), **_alert_data(alerted), "reason": reason,
                      "target": "next_in_team", "from_level": level, "skipped": skipped},
            )
            return True
    if "coordinator" in targets:
        _escalate_to_coordinator(session, dispatch, level=next_level, reason=reason, now=now, skipped=skipped)
        return True
    dispatch.status = DispatchStatus.EXHAUSTED
    dispatch.ack_deadline_at = None
    record_event(
        session, kind="dispatch", type="dispatch.exhausted", actor="scheduler", incident_id=dispatch.incident_id,
        subject=dispatch, summary=f"Dispatch {dispatch.reference}: nobody left to alert ({_reason_text(reason)})",
        data={**_dispatch_data(dispatch), "reason": reason, "from_level": level, "skipped": skipped},
    )
    return True


def _escalate_to_coordinator(session: Session, dispatch: Dispatch, *, level: int, reason: str, now: datetime,
                             skipped: list[dict] | None = None) -> None:
    """The end of the chain: the coordinator is told; the dispatch stays open for anyone to take."""
    if dispatch.escalation_level != level:
        dispatch.escalation_level = level
    alerted_before = {a.user_id for a in dispatch.attempts}
    coordinators = [u for u in incident_coordinators(session, dispatch.incident) if u.id not in alerted_before]
    alerted = _alert(session, dispatch, coordinators, level=level, kind="dispatch_escalation", now=now)
    dispatch.status = DispatchStatus.EXHAUSTED
    dispatch.ack_deadline_at = None
    who = ", ".join(f"staff {a.user.id}" for a in alerted) or "no coordinator found"
    record_event(
        session, kind="dispatch", type="dispatch.escalated", actor="scheduler", incident_id=dispatch.incident_id,
        subject=dispatch,
        summary=f"Dispatch {dispatch.reference} not acknowledged; coordinator told ({who}, {_reason_text(reason)})",
        data={**_dispatch_data(dispatch), **_alert_data(alerted), "reason": reason, "target": "coordinator",
              "skipped": skipped or []},
    )


def _reason_text(reason: str) -> str:
    return {
        "no_acknowledgement": "no acknowledgement in time",
        "not_delivered": "the alert could not be delivered",
        "nobody_reachable": "nobody in the team reachable by SMS",
        "opted_out": "the person opted out of SMS",
        "no_number": "the person has no mobile number",
        "off_duty": "the person is off duty",
        "inactive": "the person is deactivated",
    }.get(reason, reason)


def alert_not_delivered(session: Session, message: Message, *, now: datetime | None = None) -> bool:
    """An alert SMS ended undelivered: escalate now rather than wait out the window.

    Only when it was the current level's alert and no other alert at that
    level may still arrive (crisis.messaging.services calls this).
    """
    now = now or utcnow()
    dispatch = session.get(Dispatch, message.dispatch_id) if message.dispatch_id else None
    if dispatch is None or dispatch.status != DispatchStatus.PENDING:
        return False
    current = [a for a in dispatch.attempts if a.level == dispatch.escalation_level]
    if message.id not in {a.message_id for a in current}:
        return False
    for attempt in current:
        other = attempt.message
        if other is not None and other.id != message.id and other.status not in NOT_DELIVERED:
            return False
    record_event(
        session, kind="dispatch", type="dispatch.alert_failed", actor="sms", incident_id=dispatch.incident_id,
        subject=dispatch,
        summary=f"Dispatch {dispatch.reference}: alert to staff {message.recipient_user_id} "
                f"{message.status.value}",
        data={**_dispatch_data(dispatch), "message_id": message.id, "status": message.status.value,
              "error_code": message.error_code, "user_id": message.recipient_user_id},
    )
    return escalate_dispatch(session, dispatch, reason="not_delivered", now=now)


# -- acknowledgement and cancellation -------------------------------------------------------------------


def can_acknowledge(session: Session, user: User, dispatch: Dispatch) -> bool:
    """The people alerted, the team's members, the named person, and coordinators on their behalf."""
    if user.has_role(Role.ADMIN, Role.COORDINATOR):
        return True
    if user.id == dispatch.user_id or any(a.user_id == user.id for a in dispatch.attempts):
        return True
    return dispatch.team is not None and any(m.user_id == user.id for m in dispatch.team.members)


def can_view_dispatch(session: Session, user: User, dispatch: Dispatch) -> bool:
    if user.has_role(Role.ADMIN, Role.COORDINATOR, Role.MANAGER):
        return True
    if can_acknowledge(session, user, dispatch):
        return True
    return is_assigned(session, user, dispatch.incident_id)


def acknowledge_dispatch(session: Session, dispatch: Dispatch, *, user: User, via: str,
                         now: datetime | None = None) -> AckOutcome:
    """`user` takes the dispatch; escalation stops and alerts still waiting are withdrawn."""
    now = now or utcnow()
    if via not in ACK_CHANNELS:
        raise ValueError(f"via must be one of {ACK_CHANNELS}")
    if dispatch.status == DispatchStatus.ACKNOWLEDGED:
        return AckOutcome.ALREADY
    if dispatch.status == DispatchStatus.CANCELLED:
        return AckOutcome.CLOSED
    if not can_acknowledge(session, user, dispatch):
        return AckOutcome.NOT_ALLOWED
    taken = session.execute(
        update(Dispatch)
        .where(Dispatch.id == dispatch.id,
               Dispatch.status.in_([DispatchStatus.PENDING, DispatchStatus.EXHAUSTED]))
        .values(status=DispatchStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by_id=user.id,
                ack_deadline_at=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not taken:
        session.refresh(dispatch)
        return AckOutcome.ALREADY if dispatch.status == DispatchStatus.ACKNOWLEDGED else AckOutcome.CLOSED
    # SMS still held for a push are not needed: counted as saved by push (crisis.push).
    push.alert_acknowledged(session, dispatch.id, user_id=user.id, via=via, now=now)
    waiting = [a.message for a in dispatch.attempts if a.message is not None]
    withdraw_queued(session, waiting, reason="acknowledged", now=now)
    from crisis.dispatch.access_withdrawal import (
        withdraw_others,  # issue 14: the others lose access
    )

    withdraw_others(session, dispatch, kept=user, now=now)
    seconds = int((now - dispatch.created_at).total_seconds())
    record_event(
        session, kind="dispatch", type="dispatch.acknowledged", actor=user, incident_id=dispatch.incident_id,
        subject=dispatch,
        summary=f"Dispatch {dispatch.reference} acknowledged by staff {user.id} ({via}, after {seconds // 60} min)",
        data={**_dispatch_data(dispatch), "acknowledged_by": user.id, "via": via, "seconds_to_ack": seconds},
    )
    # Issue 18: the visit named in the dispatch follows the person who answered.
    from crisis.tasks.services import give_visit_to_acknowledger

    give_visit_to_acknowledger(session, dispatch, user)
    return AckOutcome.ACKNOWLEDGED


def cancel_dispatch(session: Session, dispatch: Dispatch, *, actor: User, now: datetime | None = None) -> bool:
    """Call a dispatch off; False if it was already acknowledged or cancelled."""
    now = now or utcnow()
    taken = session.execute(
        update(Dispatch)
        .where(Dispatch.id == dispatch.id,
               Dispatch.status.in_([DispatchStatus.PENDING, DispatchStatus.EXHAUSTED]))
        .values(status=DispatchStatus.CANCELLED, ack_deadline_at=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not taken:
        return False
    waiting = [a.message for a in dispatch.attempts if a.message is not None]
    withdraw_queued(session, waiting, reason="cancelled", now=now)
    record_event(
        session, kind="dispatch", type="dispatch.cancelled", actor=actor, incident_id=dispatch.incident_id,
        subject=dispatch, summary=f"Dispatch {dispatch.reference} cancelled",
        data=_dispatch_data(dispatch),
    )
    return True


def _matches_reference(dispatch: Dispatch, ref: str) -> bool:
    ref = ref.upper()
    return ref in {dispatch.reference.upper(), str(dispatch.id), dispatch.incident.reference.upper()}


def acknowledge_by_reply(session: Session, staff: list[User], *, ref: str | None, language: str,
                         now: datetime | None = None) -> str:
    """An "OK" by SMS from a staff phone; returns the answer to send back.

    With several open alerts and no reference the reply is not guessed at:
    a wrong acknowledgement would stop an escalation nobody is answering
    (crisis.messaging.keywords); the answer asks for the reference.
    """
    now = now or utcnow()
    ids = [u.id for u in staff]
    rows = session.execute(
        select(Dispatch, DispatchAttempt.user_id)
        .join(DispatchAttempt, DispatchAttempt.dispatch_id == Dispatch.id)
        .where(DispatchAttempt.user_id.in_(ids))
        .order_by(DispatchAttempt.created_at.desc(), DispatchAttempt.id.desc())
    ).all()
    alerted: dict[int, tuple[Dispatch, int]] = {}
    for dispatch, user_id in rows:
        alerted.setdefault(dispatch.id, (dispatch, user_id))
    open_ = [(d, u) for d, u in alerted.values() if d.is_open]
    if ref:
        matches = [(d, u) for d, u in alerted.values() if _matches_reference(d, ref)]
        matches.sort(key=lambda pair: not pair[0].is_open)  # an open one first
        if not matches:
            return system_text("ack_unknown_ref", language, ref=ref)
        chosen = matches[0]
    elif not open_:
        return system_text("ack_nothing_open", language)
    elif len(open_) > 1:
        refs = ", ".join(d.reference for d, _ in open_[:4])
        return system_text("ack_ambiguous", language, refs=refs, example=open_[0][0].reference)
    else:
        chosen = open_[0]
    dispatch, user_id = chosen
    user = next(u for u in staff if u.id == user_id)
    outcome = acknowledge_dispatch(session, dispatch, user=user, via="sms", now=now)
    key = {AckOutcome.ACKNOWLEDGED: "ack_received", AckOutcome.ALREADY: "ack_already"}.get(outcome, "ack_closed")
    return system_text(key, language, ref=dispatch.reference)


# -- reading -------------------------------------------------------------------------------------------


def dispatch_json(dispatch: Dispatch) -> dict:
    """A dispatch as the API and the dashboard show it: ids and statuses, no names or numbers."""
    return {
        "id": dispatch.id,
        "ref": dispatch.reference,
        "incident_id": dispatch.incident_id,
        "incident_reference": dispatch.incident.reference,
        "purpose": dispatch.purpose,
        "task_id": dispatch.task_id,
        "team_id": dispatch.team_id,
        "user_id": dispatch.user_id,
        "status": dispatch.status.value,
        "escalation_level": dispatch.escalation_level,
        "ack_deadline_at": _iso(dispatch.ack_deadline_at),
        "acknowledged_at": _iso(dispatch.acknowledged_at),
        "acknowledged_by_id": dispatch.acknowledged_by_id,
        "created_at": _iso(dispatch.created_at),
        "created_by_id": dispatch.created_by_id,
        "unreachable_reason": dispatch.unreachable_reason,
        "attempts": [
            {
                "level": a.level,
                "user_id": a.user_id,
                "alerted_at": _iso(a.created_at),
                "message_id": a.message_id,
                "message_status": a.message.status.value if a.message is not None else None,
                "message_error_code": a.message.error_code if a.message is not None else None,
            }
            for a in dispatch.attempts
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message_statuses(dispatch: Dispatch) -> dict[int, MessageStatus]:
    return {a.message.id: a.message.status for a in dispatch.attempts if a.message is not None}


def alert_coordinator_now(session: Session, dispatch, *, reason: str, now: datetime | None = None,
                          user_id: int | None = None) -> list:
    """Tell the incident's coordinator at once, keeping the dispatch's own escalation going.

    The dispatch records why (`unreachable_reason`), which its page and the API show.
    """
    now = now or utcnow()
    dispatch.unreachable_reason = reason
    alerted_before = {a.user_id for a in dispatch.attempts}
    coordinators = [u for u in incident_coordinators(session, dispatch.incident) if u.id not in alerted_before]
    alerted = _alert(session, dispatch, coordinators, level=dispatch.escalation_level,
                     kind="dispatch_escalation", now=now)
    record_event(
        session, kind="dispatch", type="dispatch.coordinator_alerted", actor="scheduler",
        incident_id=dispatch.incident_id, subject=dispatch,
        summary=f"Dispatch {dispatch.reference}: coordinator alerted at once ({reason})",
        data={**_dispatch_data(dispatch), **_alert_data(alerted), "reason": reason, "unreachable_user_id": user_id},
    )
    return alerted
