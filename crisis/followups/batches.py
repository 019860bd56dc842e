"""Picking a batch of due rows for one scheduler to work on.

On PostgreSQL the batch is selected `FOR UPDATE SKIP LOCKED`, so rows that
another scheduler is taking right now are skipped instead of waited for. The
selection is a MATERIALIZED CTE: as a plain `IN (SELECT ... LIMIT n)`
subquery the planner may rescan it while the UPDATE runs and hand back more
than `n` rows. On SQLite, which runs one writer at a time, the same
statement without the lock is already atomic.
"""

from __future__ import annotations

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session, selectinload

from crisis.followups.models import FollowUp
from crisis.incidents.models import Incident, Relative


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def batch_ids(session: Session, query: Select, table: Table) -> Select:
    """`SELECT id FROM <batch>` for an UPDATE's `WHERE id IN (...)`; `query` selects `table.c.id`."""
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True, of=table)
    batch = query.cte(f"{table.name}_batch").prefix_with("MATERIALIZED")
    return select(batch.c.id)


def marked_follow_ups(session: Session, ids: list[int]) -> list[FollowUp]:
    """The follow-ups a sweep has just marked, soonest due first, fresh from the database, with what a text
    to their owner, coordinator and playbook needs loaded in a fixed number of statements."""
    return session.scalars(
        select(FollowUp).where(FollowUp.id.in_(ids)).order_by(FollowUp.due_at, FollowUp.id)
        .options(
            selectinload(FollowUp.owner),
            selectinload(FollowUp.relative).selectinload(Relative.incident).selectinload(Incident.coordinator),
            selectinload(FollowUp.relative).selectinload(Relative.incident)
            .selectinload(Incident.playbook_snapshot),
        )
        .execution_options(populate_existing=True)
    ).all()
