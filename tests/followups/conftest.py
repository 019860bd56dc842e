"""Fixtures for follow-up tests: a pinned playbook with the scheduler's texts, and follow-up rows.

The playbook engine that creates follow-ups is tested elsewhere; these tests
write FollowUp rows directly so that each test states exactly the rows it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from tests.followups.helpers import PLAYBOOK_CONTENT


@pytest.fixture
def followup_snapshot(create_snapshot):
    return create_snapshot(PLAYBOOK_CONTENT, playbook_id="test-followups")


@pytest.fixture
def followup_setup(session, create_user, create_incident, create_relative, followup_snapshot):
    """An incident with a coordinator, an outreach worker (the owner) and a consenting relative."""
    coordinator = create_user("coordinator", phone="+46701110001")
    worker = create_user("outreach", phone="+46701110002")
    incident = create_incident(coordinator=coordinator, assigned=[worker], snapshot=followup_snapshot)
    relative = create_relative(incident, consent="given", contact_person_id=worker.id)
    # The shared factories leave plain strings in enum attributes until the
    # rows are read again; the services (and the playbook engine) expect enums.
    session.expire_all()
    return {"coordinator": coordinator, "worker": worker, "incident": incident, "relative": relative}


@pytest.fixture
def create_follow_up(session) -> Callable:
    from crisis.followups.models import FollowUp, FollowUpStatus

    counter = iter(range(1, 100_000))

    def factory(relative, *, due_at: datetime, owner=None, label: str | None = None, acute: bool = False,
                planned_due_at: datetime | None = None, status: str = "planned", **fields):
        n = next(counter)
        follow_up = FollowUp(
            incident_id=relative.incident_id, relative_id=relative.id,
            key=fields.pop("key", f"followup:{label or n}@relative:r{relative.id}:{n}"),
            label=label or f"{n}d", planned_due_at=planned_due_at or due_at, due_at=due_at, acute=acute,
            owner_user_id=owner.id if owner is not None else None, status=FollowUpStatus(status), **fields,
        )
        session.add(follow_up)
        session.commit()
        session.expire_all()  # see followup_setup
        return follow_up

    return factory
