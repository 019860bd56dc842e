"""What the outreach worker's phone may keep for reading without a connection (issue 16, item 2).

The server decides, the service worker (static/js/sw-offline.js) obeys:

- A page may be kept only when it is one of the outreach worker's own pages
  (`CACHEABLE`), the user is outreach staff and nothing else (coordinators,
  managers and admins see far more than their own work: nothing of theirs is
  kept), the page answered 200, and it concerns no relative with protected
  identity. Such a response carries `X-Offline-Cache: allow` and
  `X-Offline-User: <id>` (the worker keeps it in that user's cache only).
  Every page keeps `Cache-Control: no-store` (crisis.core.security): the
  browser's own HTTP cache never holds a page, only the worker's cache does,
  and the worker empties it at logout and when the session has ended.
- `offline_pages` lists what to fetch ahead for reading: "Mina uppgifter",
  the open tasks, the alerts waiting for an answer, the open follow-ups of the
  next two weeks, and the relatives those concern whose record the user may
  open. The same rule applies to each, so the list never names a protected
  identity.

docs/phone.md describes it for people.
"""

from __future__ import annotations

from datetime import timedelta

from flask import url_for
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from crisis.auth.models import Role, User
from crisis.core.db import utcnow
from crisis.dispatch.models import Dispatch
from crisis.followups.models import FollowUp
from crisis.followups.services import OPEN_STATUSES as FOLLOW_UP_OPEN
from crisis.followups.services import can_view_follow_up
from crisis.incidents import access
from crisis.incidents.models import Relative
from crisis.tasks.mine import pending_alerts
from crisis.tasks.models import Task
from crisis.tasks.queries import my_tasks_query

#: The endpoints whose pages may be kept on an outreach worker's phone.
CACHEABLE = frozenset({
    "tasks.my_tasks", "tasks.show", "dispatch.show", "followups.show", "followups.week",
    "incidents.show_relative", "pwa.device", "pwa.offline_page",
})
#: Follow-ups due this far ahead are fetched for reading (later ones when they come closer).
FOLLOW_UPS_AHEAD = timedelta(days=14)
#: At most this many pages of each kind are fetched ahead (the page list stays small on a phone).
MOST = 100


def keeps_pages_for(user: User) -> bool:
    """Outreach staff only; someone who is also coordinator, manager or admin gets nothing kept."""
    return (user.is_authenticated and user.has_role(Role.OUTREACH)
            and not user.has_role(Role.COORDINATOR, Role.MANAGER, Role.ADMIN))


def _protected(relative: Relative | None) -> bool:
    return relative is not None and bool(relative.protected_identity)


def _lists_protected_task(session: Session, user: User) -> bool:
    """Whether "Mina uppgifter" shows a task or an alert about a relative with protected identity."""
    tasks = my_tasks_query(session, user).order_by(None).options().join(Task.relative) \
        .where(Relative.protected_identity.is_(True))
    if session.scalar(select(exists(tasks.subquery().select()))):
        return True
    return any(_protected(d.task.relative if d.task else None) for d in pending_alerts(session, user))


def _week_lists_protected(session: Session, user: User) -> bool:
    """Whether the user's follow-ups (this week's page) include a relative with protected identity."""
    return bool(session.scalar(select(exists().where(
        FollowUp.owner_user_id == user.id, FollowUp.relative_id == Relative.id,
        Relative.protected_identity.is_(True)))))


def page_may_be_kept(session: Session, user: User, endpoint: str | None, view_args: dict) -> bool:
    """May this page (already answered 200 to `user`) be kept on `user`'s phone?"""
    if endpoint not in CACHEABLE or not keeps_pages_for(user):
        return False
    if endpoint == "tasks.my_tasks":
        return not _lists_protected_task(session, user)
    if endpoint == "followups.week":
        return not _week_lists_protected(session, user)
    if endpoint == "tasks.show":
        task = session.get(Task, view_args.get("task_id"))
        return task is not None and not _protected(task.relative)
    if endpoint == "dispatch.show":
        dispatch = session.get(Dispatch, view_args.get("dispatch_id"))
        return dispatch is not None and not (dispatch.task and _protected(dispatch.task.relative))
    if endpoint == "followups.show":
        follow_up = session.get(FollowUp, view_args.get("follow_up_id"))
        return follow_up is not None and not _protected(follow_up.relative)
    if endpoint == "incidents.show_relative":
        relative = session.get(Relative, view_args.get("relative_id"))
        return relative is not None and not _protected(relative)
    return True  # the device page and the offline page: nothing about anyone


def offline_pages(session: Session, user: User) -> list[str]:
    """The addresses to fetch ahead for `user`, each one a page `page_may_be_kept` allows; [] for other roles."""
    if not keeps_pages_for(user):
        return []
    pages: list[str] = [url_for("pwa.offline_page"), url_for("pwa.device")]
    if not _lists_protected_task(session, user):
        pages.insert(0, url_for("tasks.my_tasks"))
    if not _week_lists_protected(session, user):
        pages.append(url_for("followups.week"))
    relatives: dict[int, Relative] = {}
    tasks = session.scalars(my_tasks_query(session, user).limit(MOST)).all()
    for task in tasks:
        if not _protected(task.relative) and access.can_view_incident(session, user, task.incident):
            pages.append(url_for("tasks.show", task_id=task.id))
            if task.relative is not None:
                relatives[task.relative.id] = task.relative
    for dispatch in pending_alerts(session, user)[:MOST]:
        relative = dispatch.task.relative if dispatch.task else None
        if not _protected(relative):
            pages.append(url_for("dispatch.show", dispatch_id=dispatch.id))
    follow_ups = session.scalars(
        select(FollowUp).where(FollowUp.owner_user_id == user.id, FollowUp.status.in_(FOLLOW_UP_OPEN),
                               FollowUp.due_at < utcnow() + FOLLOW_UPS_AHEAD)
        .order_by(FollowUp.due_at, FollowUp.id).limit(MOST)
    ).all()
    for follow_up in follow_ups:
        if not _protected(follow_up.relative) and can_view_follow_up(session, user, follow_up):
            pages.append(url_for("followups.show", follow_up_id=follow_up.id))
            relatives[follow_up.relative.id] = follow_up.relative
    for relative in list(relatives.values())[:MOST]:
        if not _protected(relative) and access.can_see_relative_details(session, user, relative):
            pages.append(url_for("incidents.show_relative", relative_id=relative.id))
    return pages
