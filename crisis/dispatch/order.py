"""Who a team dispatch alerts, in which order, and why nobody on call is reachable.

Order: the person on call (crisis.oncall.services.who_is_on_call), then the
team's order (available members first, then busy; off duty never), then the
coordinator (crisis.dispatch.services escalates to them). When the person on
call cannot be reached, or a person dispatched by name cannot be, the
coordinator is alerted at once instead of after the acknowledgement window
(crisis.dispatch.services.alert_coordinator_now). This module only reads: it
imports nothing of the dispatch's write side, which imports it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, object_session

from crisis.auth.models import Availability, User
from crisis.messaging.services import sms_refusal_for_user
from crisis.oncall.services import who_is_on_call


def team_order(team) -> list[User]:
    """The team's on-call order: available members first, then busy ones; off duty never."""
    members = [m.user for m in sorted(team.members, key=lambda m: m.position)]
    members = [u for u in members if u.active and u.availability != Availability.OFF_DUTY]
    return ([u for u in members if u.availability == Availability.AVAILABLE]
            + [u for u in members if u.availability != Availability.AVAILABLE])


def alert_order(team, now: datetime | None = None) -> list[User]:
    """The team's members in alert order, the person on call first (if reachable at all)."""
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
    refusal = sms_refusal_for_user(session, user)
    if refusal is not None:
        return refusal.reason
    if user.availability == Availability.OFF_DUTY:
        return "off_duty"
    return None


def on_call_problem(session: Session, team, now: datetime | None = None) -> tuple[User | None, str | None]:
    """(the person on call, why they cannot be reached) — (None, None) for a team without a rota."""
    on_call = who_is_on_call(session, team, now)
    if on_call is None:
        return None, None
    return on_call, unreachable_reason(session, on_call)
