"""The SMS sender as a scheduler sweep (crisis.scheduler; docs/architecture.md "The database is the truth")."""

from __future__ import annotations

import logging

from flask import current_app

from crisis.core.db import db
from crisis.messaging.sender import get_gateway, run_sender_sweep, settings_from_config
from crisis.scheduler import interval_job

log = logging.getLogger(__name__)


@interval_job("messaging.send", 2)
def send_outbox() -> None:
    """Expire, settle stalled sends, and send what is due. Every step commits as it goes."""
    app = current_app._get_current_object()
    gateway = get_gateway(app)
    report = run_sender_sweep(db.session, gateway, settings_from_config(app.config, gateway))
    if report.claimed or report.recovered or report.requeued or report.expired:
        log.info(
            "SMS sweep: %d claimed, %d accepted, %d retrying, %d failed, %d uncertain, "
            "%d expired, %d recovered, %d requeued",
            report.claimed, report.accepted, report.retrying, report.failed, report.uncertain,
            report.expired, report.recovered, report.requeued,
        )
