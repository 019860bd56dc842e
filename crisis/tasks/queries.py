"""The "my tasks" query, shared by the page (crisis.tasks.routes) and the API (crisis.tasks.api),
and the open/overdue/done counts per incident that the incident list shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session, defer, load_only, selectinload

from crisis.core.db import db, one_of
from crisis.incidents import access
from crisis.incidents.models import Incident, Relative
from crisis.tasks.models import Task, TaskStatus

OPEN = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)
# Tasks on one page of "My tasks"; more are on the next pages, and the page says so. 50, as the
# dashboard's cards: more than a phone shows without scrolling far, and the page stays near 45 KB
# and its server time near 15 ms (bench/pages.py). An outreach worker rarely has more open tasks
# than that; a coordinator's team may, and pages on by the soonest deadline.
MY_TASKS_PAGE_SIZE = 50


def mine(session: Session, user) -> ColumnElement[bool]:
    """Tasks `user` owns, or `user`'s teams own and no one has taken (one query for the teams)."""
    teams = access.team_ids_of(session, user)
    return or_(Task.owner_user_id == user.id,
               (Task.owner_user_id.is_(None) & Task.owner_team_id.in_(teams)) if teams else False)


def my_tasks_query(session: Session, user, loading: tuple | None = None) -> Select:
    """Open tasks `user` owns, or `user`'s teams own, on incidents `user` may see; soonest deadline first.

    Each task's incident and relative come with it, or as the loader options `loading` say.
    """
    visible = access.visible_incidents(user).with_only_columns(access.Incident.id)
    return (
        select(Task)
        .where(Task.status.in_(OPEN), Task.incident_id.in_(visible), mine(session, user))
        .options(*(loading if loading is not None else (selectinload(Task.incident), selectinload(Task.relative))))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
    )


def my_open_tasks(user, *, offset: int = 0, limit: int = MY_TASKS_PAGE_SIZE) -> list[Task]:
    """One page of `my_tasks_query` (the page shows them grouped by when they are due).

    The page shows a task's title, status and deadline and its relative's label: the
    rest (the description, the note, the checklist and sources, the relative's name and
    phone, the incident's place) is neither read nor decrypted, and reading it here raises.
    """
    shown = (Task.id, Task.incident_id, Task.relative_id, Task.title, Task.status, Task.due_at, Task.version)
    query = my_tasks_query(db.session, user).options(
        load_only(*shown, raiseload=True),
        selectinload(Task.relative).options(*(defer(column, raiseload=True) for column in
                                              (Relative.name, Relative.phone, Relative.notes))),
        selectinload(Task.incident).options(*(defer(column, raiseload=True) for column in
                                              (Incident.place, Incident.police_reference))))
    return db.session.scalars(query.offset(offset).limit(limit)).all()


def count_my_open_tasks(user) -> int:
    """How many open tasks `my_tasks_query` finds in all (the page says when there are more)."""
    query = my_tasks_query(db.session, user).order_by(None).options()
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def task_counts(session: Session, incident_ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """Open, overdue and done tasks per incident, in one query."""
    if not incident_ids:
        return {}
    is_open = Task.status.in_(OPEN)
    rows = session.execute(
        select(
            Task.incident_id,
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((is_open & (Task.due_at < now), 1), else_=0)),
            func.sum(case((Task.status == TaskStatus.DONE, 1), else_=0)),
        ).where(one_of(session, Task.incident_id, incident_ids)).group_by(Task.incident_id)
    ).all()
    return {r[0]: {"open": int(r[1] or 0), "overdue": int(r[2] or 0), "done": int(r[3] or 0)} for r in rows}
