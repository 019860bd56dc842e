"""Named signals: how one capability reacts to another without importing it upward.

A lower capability announces what happened (`signal.send(sender, session=..., ...)`);
a higher one subscribes in its own `receivers` module, which the app factory
imports (crisis.app.SUBSCRIBERS). Receivers take `**kwargs`, run synchronously
in the caller's transaction (no commit of their own), and may return a value
the sender reads from `send()`'s list of (receiver, value) pairs.
tests/core/test_signals.py lists every signal with its subscribers.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

sms_reply_received = _signals.signal("sms-reply-received", doc="""
A staff phone answered "OK" (with an optional reference) by SMS.
kwargs: session, staff (list of User), ref, language, now. A receiver returns
the answer to text back (str) or None.""")

sms_not_delivered = _signals.signal("sms-not-delivered", doc="""
An outbound SMS that belongs to a dispatch ended undelivered or failed.
kwargs: session, message, now.""")

plan_laid_out = _signals.signal("plan-laid-out", doc="""
The playbook engine planned an incident's tasks and follow-ups; each capability
lays out its own part. kwargs: session, incident, tasks (tuple of PlannedTask),
follow_ups (tuple of PlannedFollowUp), relatives ({relative_ref: Relative}),
persons ({person_ref: AffectedPerson}), result (ApplyResult: the receivers fill
its lists of keys created, re-dated, cancelled, reopened), new_incident (True when
the incident was created in this transaction: it has no rows to reconcile yet).""")

sessions_ended = _signals.signal("sessions-ended", doc="""
A user's sessions ended (logout, deactivation, a changed password) and that has
committed: the live dashboard closes the user's sockets. kwargs: user_id.""")

ALL = (sms_reply_received, sms_not_delivered, plan_laid_out, sessions_ended)
