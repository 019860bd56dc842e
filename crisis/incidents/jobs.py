"""Keep every active response in line with its pinned playbook.

The sweep picks the open incidents, so it lives with incidents (the playbook
engine below only plans one incident at a time); its job id keeps the name it
was registered under, `playbooks.reconcile_active_incidents`.

Services re-apply the playbook in the same transaction as the fact they
change, so this sweep normally finds nothing. It exists for what bypasses
them: a data correction made directly in the database, or a restored
backup. It is idempotent and records an event only when it changed something.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from crisis.core.db import db
from crisis.incidents.models import Incident, IncidentStatus
from crisis.playbooks.engine import apply_playbook
from crisis.scheduler import interval_job

log = logging.getLogger(__name__)


@interval_job("playbooks.reconcile_active_incidents", seconds=900)
def reconcile_active_incidents() -> int:
    changed = 0
    ids = db.session.scalars(
        select(Incident.id).where(Incident.status != IncidentStatus.CLOSED).order_by(Incident.id)
    ).all()
    for incident_id in ids:
        incident = db.session.get(Incident, incident_id)
        if apply_playbook(db.session, incident, actor="scheduler", reason="reconcile").changed:
            changed += 1
        db.session.commit()
    if changed:
        log.info("reconciled %d incidents with their playbooks", changed)
    return changed
