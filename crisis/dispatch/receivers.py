"""Dispatch's answers to messaging's signals (crisis.core.signals), in the caller's transaction."""

from __future__ import annotations

from crisis.core.signals import sms_not_delivered, sms_reply_received
from crisis.dispatch.services import acknowledge_by_reply, alert_not_delivered


@sms_reply_received.connect
def acknowledge_alert_by_reply(_sender, *, session, staff, ref, language, now=None, **_kwargs) -> str:
    """An "OK" by SMS acknowledges the staff member's open alert; returns the answer to text back."""
    return acknowledge_by_reply(session, staff, ref=ref, language=language, now=now)


@sms_not_delivered.connect
def escalate_undelivered_alert(_sender, *, session, message, now=None, **_kwargs) -> None:
    """An alert that cannot arrive escalates at once."""
    alert_not_delivered(session, message, now=now)
