"""Once one member acknowledges a dispatch, the others it alerted lose the access it gave (issue 14, finding 15).

An alert gives everyone alerted access to the incident, so the link in the
SMS opens for them. Most never go: when one acknowledges, the access the
alert gave the others is withdrawn, each in the access log. Access that
did not come from this dispatch (assigned by a coordinator, or by another
dispatch still open for them or taken by them) stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from crisis.dispatch.models import Dispatch, DispatchAttempt, DispatchStatus
from crisis.incidents.models import IncidentAssignment
from crisis.timeline.models import AccessLog
from crisis.timeline.services import record_event

WITHDRAWN = "access_withdrawn"


def _still_needed(session: Session, dispatch: Dispatch, user_id: int) -> bool:
    """Another dispatch of the incident that is open for the user, or that they took."""
    other = select(Dispatch.id).where(Dispatch.incident_id == dispatch.incident_id, Dispatch.id != dispatch.id)
    took = session.scalar(select(exists(other.where(Dispatch.acknowledged_by_id == user_id))))
    waiting = session.scalar(select(exists(
        other.join(DispatchAttempt, DispatchAttempt.dispatch_id == Dispatch.id)
        .where(DispatchAttempt.user_id == user_id,
               Dispatch.status.in_([DispatchStatus.PENDING, DispatchStatus.EXHAUSTED])))))
    return bool(took or waiting)


def withdraw_others(session: Session, dispatch: Dispatch, *, kept, now: datetime) -> list[int]:
    """Withdraw the access `dispatch` gave to everyone but `kept`; returns their ids."""
    rows = session.scalars(select(IncidentAssignment).where(
        IncidentAssignment.incident_id == dispatch.incident_id,
        IncidentAssignment.via_dispatch_id == dispatch.id,
        IncidentAssignment.user_id != kept.id)).all()
    withdrawn = [row.user_id for row in rows if not _still_needed(session, dispatch, row.user_id)]
    if not withdrawn:
        return []
    session.execute(delete(IncidentAssignment).where(
        IncidentAssignment.incident_id == dispatch.incident_id, IncidentAssignment.user_id.in_(withdrawn))
        .execution_options(synchronize_session=False))
    for user_id in withdrawn:
        session.add(AccessLog(at=now, user_id=user_id, relative_id=None, incident_id=dispatch.incident_id,
                              action=WITHDRAWN, reason=None, assigned=False))
    record_event(session, kind="dispatch", type="dispatch.access_withdrawn", actor=kept,
                 incident_id=dispatch.incident_id, subject=dispatch,
                 summary=f"Access of {len(withdrawn)} alerted staff withdrawn after the dispatch was taken",
                 data={"dispatch_id": dispatch.id, "acknowledged_by": kept.id, "user_ids": sorted(withdrawn)})
    return withdrawn
