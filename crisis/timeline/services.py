"""Appending to the timeline: the one path every change takes (docs/architecture.md "The one write path").

A service function mutates its rows and calls `record_event` in the same
session; the event commits with the change or not at all, and only after the
commit is it handed to the publishers (the live dashboard), so the timeline,
the audit trail and the dashboard can never disagree.

An event's truth is its `type` and `data` (ids, codes, values); the text
people read is rendered from them when read, in the reader's language
(crisis.timeline.render). `summary` may still be passed; it is kept as a
developer's note and never shown.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from crisis.core.db import after_commit
from crisis.timeline.models import AccessLog, TimelineEvent

Publisher = Callable[[TimelineEvent], None]
_publishers: list[Publisher] = []


def add_publisher(publisher: Publisher) -> None:
    if publisher not in _publishers:
        _publishers.append(publisher)


def remove_publisher(publisher: Publisher) -> None:
    if publisher in _publishers:
        _publishers.remove(publisher)


def actor_fields(actor) -> dict:
    """`actor` is a User, or a label for a process ("scheduler", "twilio")."""
    if actor is None:
        return {"actor_id": None, "actor_label": "system"}
    if isinstance(actor, str):
        return {"actor_id": None, "actor_label": actor}
    return {"actor_id": actor.id, "actor_label": ""}


def record_event(
    session: Session,
    *,
    kind: str,
    type: str,
    summary: str | None = None,
    actor=None,
    incident_id: int | None = None,
    subject=None,
    data: dict | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        incident_id=incident_id,
        kind=kind,
        type=type,
        summary=(summary or "")[:300],
        subject_type=type.split(".")[0] if subject is not None else None,
        subject_id=getattr(subject, "id", subject) if subject is not None else None,
        data=data or {},
        **actor_fields(actor),
    )
    session.add(event)
    session.flush()  # the id orders events and is what reconnecting clients resume from
    after_commit(session, lambda: _publish(event))
    return event


def _publish(event: TimelineEvent) -> None:
    for publisher in list(_publishers):
        publisher(event)


def log_access(
    session: Session, *, user, relative, action: str, reason: str | None = None, assigned: bool = True
) -> AccessLog:
    """Record that `user` opened `relative`'s record (logguppföljning, docs/domain.md "Access logging")."""
    entry = AccessLog(
        user_id=user.id if user is not None else None,
        relative_id=relative.id,
        incident_id=relative.incident_id,
        action=action,
        reason=reason,
        assigned=assigned,
    )
    session.add(entry)
    return entry


def changes(before: dict, after: dict) -> dict:
    """The before/after of the fields that changed, for an event's data."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in after
        if before.get(key) != after.get(key)
    }
