"""Plan changes write their re-dated, reopened and cancelled rows with one UPDATE per kind of change,
and still check each row's version as the ORM does (crisis.core.db.update_versioned)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from crisis.core.db import db, update_versioned
from crisis.tasks.models import Task, TaskStatus
from tests.statements import counting_statements


def _tasks(session, incident) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.id)))


def _redate(session, tasks: list[Task]):
    with counting_statements(db.engine) as statements:
        update_versioned(session, [(t, {"due_at": (t.due_at or t.created_at) + timedelta(days=1)}) for t in tasks])
        session.commit()
    return statements


def test_one_row_or_all_of_them_cost_one_update(session, activate):
    few, many = _tasks(session, activate())[:1], _tasks(session, activate())
    assert len(many) >= 5
    versions = {t.id: t.version for t in many}

    assert _redate(session, few).count == _redate(session, many).count == 1

    session.expire_all()
    assert all(session.get(Task, i).version == v + 1 for i, v in versions.items())


def test_kinds_of_change_are_one_update_each_and_the_objects_hold_what_was_written(session, activate):
    tasks = _tasks(session, activate())
    later = tasks[0].due_at + timedelta(days=2) if tasks[0].due_at else None
    with counting_statements(db.engine) as statements:
        update_versioned(session, [(tasks[0], {"due_at": later}), (tasks[1], {"status": TaskStatus.CANCELLED}),
                                   (tasks[2], {"due_at": later}), (tasks[3], {"status": TaskStatus.CANCELLED})])
    assert statements.count == 2, statements.describe()
    assert (tasks[1].status, tasks[1].version) == (TaskStatus.CANCELLED, 2)
    session.commit()
    session.expire_all()
    assert session.get(Task, tasks[3].id).status == TaskStatus.CANCELLED
    assert session.get(Task, tasks[2].id).due_at == later


def test_a_row_changed_meanwhile_is_not_overwritten(session, activate):
    tasks = _tasks(session, activate())[:3]
    # Someone else saved the second task since it was read: its version moved on.
    session.execute(update(Task).where(Task.id == tasks[1].id).values(version=Task.version + 1)
                    .execution_options(synchronize_session=False))
    with pytest.raises(StaleDataError):
        update_versioned(session, [(t, {"status": TaskStatus.CANCELLED}) for t in tasks])
    session.rollback()
    assert all(t.status != TaskStatus.CANCELLED for t in _tasks(session, tasks[0].incident))
