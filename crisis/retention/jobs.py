"""The retention sweep: hourly, anonymise what has passed its period (crisis.retention.services).

Each incident is its own transaction, locked with SKIP LOCKED on PostgreSQL,
so a second scheduler started by mistake, or a restart mid-sweep, neither
doubles nor loses anything: an incident is anonymised once, when its
`anonymised_at` is still empty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from crisis.core.db import db, utcnow
from crisis.retention.services import (
    RetentionPolicy,
    anonymise_incident,
    incidents_to_anonymise,
    incidents_with_old_contact_details,
    lock_incident,
    remove_contact_details,
)
from crisis.scheduler import interval_job
from crisis.timeline.services import record_event

log = logging.getLogger(__name__)

BATCH = 50


@dataclass
class SweepResult:
    incidents_anonymised: int = 0
    contact_details_removed: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            self.counts[name] = self.counts.get(name, 0) + value

    @property
    def anything(self) -> bool:
        return bool(self.incidents_anonymised or self.contact_details_removed)


def sweep_retention(session, policy: RetentionPolicy, now: datetime | None = None, batch: int = BATCH) -> SweepResult:
    """Anonymise due incidents and remove old contact details, one incident per transaction."""
    now = now or utcnow()
    result = SweepResult()
    for incident_id in incidents_to_anonymise(session, policy, now, batch):
        incident = lock_incident(session, incident_id)
        if incident is None or incident.anonymised_at is not None:
            session.rollback()
            continue
        result.add(anonymise_incident(session, incident, now=now, policy=policy))
        session.commit()
        result.incidents_anonymised += 1
    for incident_id in incidents_with_old_contact_details(session, policy, now, batch):
        incident = lock_incident(session, incident_id)
        if incident is None:
            session.rollback()
            continue
        counts = remove_contact_details(session, incident, now=now, policy=policy)
        session.commit()
        if any(counts.values()):
            result.contact_details_removed += 1
            result.add({f"contact_{k}": v for k, v in counts.items()})
    if result.anything:
        # One line for the city-wide log: counts only, never who.
        record_event(
            session, kind="retention", type="retention.swept", actor="retention",
            summary=(f"Retention: {result.incidents_anonymised} incident(s) anonymised, contact details "
                     f"removed in {result.contact_details_removed}"),
            data={"incidents_anonymised": result.incidents_anonymised,
                  "contact_details_removed": result.contact_details_removed, "counts": result.counts,
                  "retention_days": policy.closed_incident_days,
                  "contact_retention_days": policy.relative_contact_days},
        )
        session.commit()
        log.info("retention: %d incident(s) anonymised, contact details removed in %d",
                 result.incidents_anonymised, result.contact_details_removed)
    return result


@interval_job("retention.sweep", 3600)
def run_retention_sweep() -> SweepResult:
    return sweep_retention(db.session, RetentionPolicy.from_config(current_app.config))
