"""Escalation of unacknowledged dispatches as a scheduler sweep (crisis.scheduler)."""

from __future__ import annotations

import logging

from crisis.core.db import db
from crisis.dispatch.services import escalate_due_dispatches
from crisis.scheduler import interval_job

log = logging.getLogger(__name__)


# Every 15 s: a 10-minute acknowledgement window is then kept to within 15 s.
@interval_job("dispatch.escalate", 15)
def escalate_unacknowledged() -> None:
    escalated = escalate_due_dispatches(db.session)
    if escalated:
        log.info("escalated %d unacknowledged dispatches", escalated)
