"""Withdrawing an activation made by mistake (issue 18).

A coordinator who activated the wrong thing (a test, a duplicate, the wrong
district) withdraws it within 24 hours with a reason. Its open tasks,
follow-ups and dispatches are cancelled, SMS not yet sent are taken out of
the outbox, and the incident leaves the dashboard and the statistics. Nothing
is deleted: the incident and everything that happened stay in the timeline,
with the reason, for the log review social services must be able to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.core.db import utcnow
from crisis.incidents.models import Incident, IncidentStatus
from crisis.incidents.services import IncidentError
from crisis.timeline.services import record_event

WITHDRAW_WITHIN = timedelta(hours=24)
REASON_MIN, REASON_MAX = 5, 300


def can_withdraw(incident: Incident, now: datetime | None = None) -> bool:
    """Still within the window, and not withdrawn already."""
    now = now or utcnow()
    return incident.withdrawn_at is None and now - incident.activated_at <= WITHDRAW_WITHIN


def check_not_withdrawn(incident: Incident) -> None:
    """Changes to a withdrawn incident would bring its plan (tasks, follow-ups) back."""
    if incident.withdrawn_at is not None:
        raise IncidentError(f"Response {incident.reference} was withdrawn; it can no longer be changed.")


def withdraw_incident(session: Session, incident: Incident, *, actor: User, reason: str,
                      now: datetime | None = None) -> dict[str, int]:
    """Cancel everything the activation set in motion; returns what was cancelled, by kind."""
    from crisis.dispatch.models import Dispatch
    from crisis.dispatch.services import cancel_dispatch
    from crisis.followups.models import FollowUp, FollowUpStatus
    from crisis.tasks.models import Task, TaskStatus

    now = now or utcnow()
    reason = " ".join((reason or "").split())
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise IncidentError(
            f"Say briefly why the activation is withdrawn ({REASON_MIN}-{REASON_MAX} characters).", "reason")
    if incident.withdrawn_at is not None:
        raise IncidentError(f"Response {incident.reference} is already withdrawn.")
    if now - incident.activated_at > WITHDRAW_WITHIN:
        raise IncidentError(
            "Only an activation less than 24 hours old can be withdrawn; close the response instead.")
    cancelled = {"tasks": 0, "follow_ups": 0, "dispatches": 0}
    for task in session.scalars(select(Task).where(Task.incident_id == incident.id)):
        if not task.status.is_closed and task.status != TaskStatus.CANCELLED:
            task.status = TaskStatus.CANCELLED
            cancelled["tasks"] += 1
    for follow_up in session.scalars(select(FollowUp).where(FollowUp.incident_id == incident.id)):
        if follow_up.status in (FollowUpStatus.PLANNED, FollowUpStatus.NOT_REACHED):
            follow_up.status = FollowUpStatus.CANCELLED
            follow_up.cancel_reason = "incident_withdrawn"
            cancelled["follow_ups"] += 1
    for dispatch in session.scalars(select(Dispatch).where(Dispatch.incident_id == incident.id)):
        if dispatch.is_open and cancel_dispatch(session, dispatch, actor=actor, now=now):
            cancelled["dispatches"] += 1
    incident.withdrawn_at = now
    incident.withdrawn_by_id = actor.id
    incident.withdrawal_reason = reason
    if incident.status != IncidentStatus.CLOSED:
        incident.closed_at = now
    incident.status = IncidentStatus.CLOSED
    session.flush()
    record_event(
        session, kind="incident", type="incident.withdrawn", actor=actor, incident_id=incident.id,
        subject=incident,
        summary=f"Activation {incident.reference} withdrawn: {reason}",
        data={"reference": incident.reference, "reason": reason, "cancelled": cancelled},
    )
    return cancelled
