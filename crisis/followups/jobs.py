"""Scheduler jobs for follow-ups: reminders, overdue escalation, the morning summary.

Static interval jobs (crisis.scheduler); each is an idempotent sweep over
rows, so running it more often, twice at once or again after a crash is safe.
"""

from __future__ import annotations

import logging

from crisis.core.db import db
from crisis.followups.escalation import run_followup_escalation
from crisis.followups.reminders import run_reminder_sweep
from crisis.followups.summary import send_morning_summaries
from crisis.scheduler import interval_job

log = logging.getLogger(__name__)


@interval_job("followups.reminders", 60)
def reminders_job() -> None:
    report = run_reminder_sweep(db.session)
    if report.claimed or report.released:
        log.info("follow-up reminders: %d sent, %d not sendable, %d skipped, %d failed, %d stale claims released",
                 report.sent, report.not_sent, report.skipped, report.failed, report.released)


@interval_job("followups.overdue_escalation", 300)
def overdue_followups_job() -> None:
    report = run_followup_escalation(db.session)
    if report.escalated or report.failed:
        log.info("overdue follow-ups: %d escalated, %d failed", report.escalated, report.failed)


@interval_job("followups.morning_summary", 300)
def morning_summary_job() -> None:
    report = send_morning_summaries(db.session)
    if report.sent or report.already_sent:
        log.info("morning summaries: %d sent, %d already sent by another process",
                 report.sent, report.already_sent)
