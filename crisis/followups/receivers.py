"""Follow-ups' answer to the playbook engine's signal (crisis.core.signals), in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import load_only

from crisis.core.db import update_versioned, utcnow
from crisis.core.signals import plan_laid_out
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.followups.services import REMINDER_RESET
from crisis.playbooks.engine import working_due

# A follow-up not yet done: planned, or a retry after "not reached".
OPEN_FOLLOW_UP = (FollowUpStatus.PLANNED, FollowUpStatus.NOT_REACHED)
# Why the plan itself cancels a follow-up; only those does it plan again when the facts change back
# (consent given, declined, given again). One a relative declined, or a withdrawn incident's, stays.
PLAN_NO_LONGER_HOLDS = "condition_no_longer_holds"
# Built once (a statement and its cache key cost more to build than to run). What reconciling reads
# of an incident's follow-ups: not their encrypted outcome notes.
_FOLLOW_UPS = (
    select(FollowUp).options(load_only(FollowUp.id, FollowUp.key, FollowUp.status, FollowUp.cancel_reason,
                                       FollowUp.planned_due_at, FollowUp.version))
    .where(FollowUp.incident_id == bindparam("incident_id"))
)
_INSERT_FOLLOW_UPS = insert(FollowUp.__table__)


@plan_laid_out.connect
def reconcile_follow_ups(_sender, *, session, incident, follow_ups, relatives, result, new_incident=False,
                         **_kwargs) -> None:
    """Bring the incident's follow-ups in line with the plan; record what changed in `result`."""
    existing = {} if new_incident else {
        f.key: f for f in session.scalars(_FOLLOW_UPS, {"incident_id": incident.id})
    }
    wanted = set()
    new_rows: list[dict] = []
    changes: list[tuple[FollowUp, dict]] = []
    for item in follow_ups:
        wanted.add(item.key)
        follow_up = existing.get(item.key)
        due_at = working_due(item.due_at, item.acute)
        if follow_up is None:
            relative = relatives[item.relative_ref]
            now = utcnow()
            new_rows.append({
                "incident_id": incident.id, "relative_id": relative.id, "key": item.key, "label": item.label,
                "planned_due_at": item.due_at, "due_at": due_at, "acute": item.acute, "channel": item.channel,
                "owner_user_id": relative.contact_person_id or incident.coordinator_id,
                "status": FollowUpStatus.PLANNED, "attempts": 0, "created_at": now, "updated_at": now,
                "version": 1,
            })
            result.followups_created.append(item.key)
        elif follow_up.status == FollowUpStatus.CANCELLED and follow_up.cancel_reason == PLAN_NO_LONGER_HOLDS:
            changes.append((follow_up, {"status": FollowUpStatus.PLANNED, "cancel_reason": None,
                                        "planned_due_at": item.due_at, "due_at": due_at, **REMINDER_RESET}))
            result.followups_reopened.append(item.key)
        elif follow_up.status == FollowUpStatus.PLANNED and follow_up.planned_due_at != item.due_at:
            # The new date gets its own reminder (reset_reminder's fields).
            changes.append((follow_up, {"planned_due_at": item.due_at, "due_at": due_at, **REMINDER_RESET}))
            result.followups_redated.append(item.key)
    for key, follow_up in existing.items():
        if key not in wanted and follow_up.status in OPEN_FOLLOW_UP:
            changes.append((follow_up, {"status": FollowUpStatus.CANCELLED,
                                        "cancel_reason": PLAN_NO_LONGER_HOLDS}))
            result.followups_cancelled.append(key)
    if new_rows:
        # The new follow-ups: one INSERT for all (an executemany), in plan order; nothing needs their ids.
        session.execute(_INSERT_FOLLOW_UPS, new_rows)
    # Re-dated, planned again and cancelled follow-ups: one UPDATE per kind of change, not one per follow-up.
    update_versioned(session, changes)
