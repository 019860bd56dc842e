"""Who a team dispatch alerts, in which order, and why nobody on call is reachable.

Order: the person on call (crisis.oncall.services.who_is_on_call), then the
team's order (available members first, then busy; off duty never), then the
coordinator (crisis.dispatch.services escalates to them). When the person on
call cannot be reached, or a person dispatched by name cannot be, the
coordinator is alerted at once instead of after the acknowledgement window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, object_session

from crisis.auth.models import Availability, User
from crisis.core.db import utcnow
from crisis.timeline.services import record_event


def alert_order(team, now: datetime | None = None) -> list[User]:
    """The team's members in alert order, the person on call first (if reachable at all)."""
    from crisis.dispatch.services import team_order
    from crisis.oncall.services import who_is_on_call

    order = team_order(team)
    session = object_session(team)
    if session is None:
        return order
    on_call = who_is_on_call(session, team, now)
    if on_call is None or not on_call.active or on_call.availability == Availability.OFF_DUTY:
        return order
    return [on_call] + [u for u in order if u.id != on_call.id]


def unreachable_reason(session: Session, user: User) -> str | None:
    """Why `user` cannot be alerted now: inactive, no_number, opted_out, off_duty; or None."""
    from crisis.messaging.services import sms_refusal_for_user

    refusal = sms_refusal_for_user(session, user)
    if refusal is not None:
        return refusal.reason
    if user.availability == Availability.OFF_DUTY:
        return "off_duty"
    return None


def on_call_problem(session: Session, team, now: datetime | None = None) -> tuple[User | None, str | None]:
    """(the person on call, why they cannot be reached) — (None, None) for a team without a rota."""
    from crisis.oncall.services import who_is_on_call

    on_call = who_is_on_call(session, team, now)
    if on_call is None:
        return None, None
    return on_call, unreachable_reason(session, on_call)


def alert_coordinator_now(session: Session, dispatch, *, reason: str, now: datetime | None = None,
                          user_id: int | None = None) -> list:
    """Tell the incident's coordinator at once, keeping the dispatch's own escalation going.

    The dispatch records why (`unreachable_reason`), which its page and the API show.
    """
    from crisis.dispatch.services import _alert, _alert_data, _dispatch_data, incident_coordinators

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
