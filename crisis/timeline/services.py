"""Appending to the timeline: the one path every change takes (docs/architecture.md "The one write path").

A service function mutates its rows and calls `record_event` in the same
session; the event commits with the change or not at all, and only after the
commit is it handed to the publishers (the live dashboard), so the timeline,
the audit trail and the dashboard can never disagree.

An event's truth is its `type` and `data` (ids, codes, values); the text
people read is rendered from them when read, in the reader's language
(crisis.eventtext.render). `summary` may still be passed; it is kept as a
developer's note and never shown.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crisis.core.db import Batched, after_commit, utcnow
from crisis.timeline.models import AccessLog, TimelineEvent

Publisher = Callable[[TimelineEvent], None]
BatchPublisher = Callable[..., None]  # (events, *, rendered: bool)
_publishers: list[Publisher] = []
# A publisher may also take a whole batch at once (`record_events`), so that
# what it looks up per event (the live dashboard's rooms) is one query.
_batch_publishers: dict[Publisher, BatchPublisher] = {}


def add_publisher(publisher: Publisher, *, batch: BatchPublisher | None = None) -> None:
    if publisher not in _publishers:
        _publishers.append(publisher)
    if batch is not None:
        _batch_publishers[publisher] = batch


def remove_publisher(publisher: Publisher) -> None:
    if publisher in _publishers:
        _publishers.remove(publisher)
    _batch_publishers.pop(publisher, None)


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
    flush: bool = True,
) -> TimelineEvent:
    """Append one event; it is published after the commit.

    `flush=False` leaves the INSERT to the session's next flush, where it goes with the other
    events pending then in one statement, their ids in the order they were recorded (the
    playbook engine records a change's event and the plan's own event so).
    """
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
    if flush:
        session.flush()  # the id orders events and is what reconnecting clients resume from
    # The transaction's events are published together after the commit (crisis.core.db.Batched),
    # each with its sentence rendered (a batch from `record_events` goes out with its facts only).
    after_commit(session, Batched(_publish_rendered, [event]))
    return event


def _publish_rendered(events: list[TimelineEvent]) -> None:
    _publish_many(events, rendered=True)


def event_row(
    *,
    kind: str,
    type: str,
    summary: str,
    actor=None,
    incident_id: int | None = None,
    subject=None,
    data: dict | None = None,
    occurred_at=None,
) -> dict:
    """The column values `record_event` would write for these arguments."""
    row = {
        "incident_id": incident_id,
        "kind": kind,
        "type": type,
        "summary": summary[:300],
        "subject_type": type.split(".")[0] if subject is not None else None,
        "subject_id": getattr(subject, "id", subject) if subject is not None else None,
        "data": data or {},
        "occurred_at": occurred_at or utcnow(),
        **actor_fields(actor),
    }
    return row


def record_events(session: Session, rows: list[dict]) -> list[TimelineEvent]:
    """`record_event` for many events: one multi-row INSERT, published together after the commit.

    Each row holds `record_event`'s keyword arguments (kind, type, summary,
    actor, incident_id, subject, data). The events get ids in the order of
    `rows`, and the live dashboard looks up who should see them with one
    query for the whole batch (crisis.live.publish.publish_events).
    """
    if not rows:
        return []
    values = [event_row(**row) for row in rows]
    # Without sort_by_parameter_order: SQLite would then fall back to one
    # INSERT per row. The ids still follow the rows' order in one statement.
    events = sorted(session.scalars(insert(TimelineEvent).returning(TimelineEvent), values), key=lambda e: e.id)
    after_commit(session, Batched(_publish_many, events))
    return events


def _publish_many(events: list[TimelineEvent], *, rendered: bool = False) -> None:
    for publisher in list(_publishers):
        batch = _batch_publishers.get(publisher)
        if batch is not None:
            batch(events, rendered=rendered)
        else:
            for event in events:
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
