"""Picking a batch of due rows for one scheduler to work on, and savepoints within it.

On PostgreSQL the batch is selected `FOR UPDATE SKIP LOCKED`, so rows that
another scheduler is taking right now are skipped instead of waited for. The
selection is a MATERIALIZED CTE: as a plain `IN (SELECT ... LIMIT n)`
subquery the planner may rescan it while the UPDATE runs and hand back more
than `n` rows. On SQLite, which runs one writer at a time, the same
statement without the lock is already atomic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def batch_ids(session: Session, query: Select, table: Table) -> Select:
    """`SELECT id FROM <batch>` for an UPDATE's `WHERE id IN (...)`; `query` selects `table.c.id`."""
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True, of=table)
    batch = query.cte(f"{table.name}_batch").prefix_with("MATERIALIZED")
    return select(batch.c.id)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT that keeps the after-commit work (publishing timeline events) right.

    `record_event` hands each event to the live dashboard once the
    transaction commits (crisis.core.db.after_commit). SQLAlchemy fires its
    `after_commit` and `after_rollback` session events for savepoints too, so
    a plain `begin_nested()` would publish the events recorded inside it at
    RELEASE, before the real commit, and its rollback would drop every
    pending publication of the transaction, not only its own. Here the
    pending work is set aside while the savepoint runs: the events recorded
    inside it join the transaction's on release and vanish with it on
    rollback, and the dashboard shows exactly what the timeline holds.
    """
    pending = session.info.pop("after_commit", [])
    inner: list = []
    try:
        with session.begin_nested():
            yield
            inner = session.info.pop("after_commit", [])  # taken out before RELEASE fires after_commit
    except BaseException:
        session.info["after_commit"] = pending
        raise
    session.info["after_commit"] = pending + inner
