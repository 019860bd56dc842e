"""The default playbook of each incident type, as the city's organisation file names it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crisis.organisation.models import DefaultPlaybook


def default_playbook_id(session: Session, incident_type: str) -> str | None:
    """The named default if it is available and applies; else the first playbook that applies."""
    from crisis.playbooks.engine import playbooks_for

    candidates = playbooks_for(incident_type)
    row = session.get(DefaultPlaybook, incident_type)
    if row is not None and any(p.id == row.playbook_id for p in candidates):
        return row.playbook_id
    return candidates[0].id if candidates else None
