"""Committed timeline events to the live dashboard: the one publishing path.

`record_event` hands each event to the publishers only after its transaction
commits (crisis.timeline.services), so the dashboard shows exactly what the
timeline records. The event goes out as `event_payload(event)` (the facts plus
the rendered sentence in sv and en) on the
`/live` namespace to:

- `dashboard` (everyone who may see every incident),
- `incident:<id>` (sockets following that incident),
- `user:<id>` of the incident's coordinator and of the staff assigned to it,
  looked up when the event is published: outreach staff see only their
  incidents (access matrix), and one who was just dispatched to an incident
  hears of it on the dashboard they already have open.

With REDIS_URL set, `socketio.emit` goes through the Redis message queue and
reaches the sockets of every web process, also when the change was made by the
scheduler process (which serves no sockets itself). Without it (`make run`,
one process) it reaches this process's sockets directly.
"""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select, union

from crisis.core.db import db
from crisis.core.extensions import socketio
from crisis.core.redis_fallback import redis_up
from crisis.incidents.models import Incident, IncidentAssignment
from crisis.live.rooms import DASHBOARD, EVENT, NAMESPACE, incident_room, user_room
from crisis.live.sockets import disconnect_user
from crisis.timeline.models import TimelineEvent
from crisis.timeline.services import add_publisher

log = logging.getLogger(__name__)


def staff_of_incident(incident_id: int) -> list[int]:
    """Ids of the incident's coordinator and assigned staff, as committed now."""
    # A connection of its own: this runs in the committing session's
    # after_commit hook, where that session must not emit SQL.
    query = union(
        select(IncidentAssignment.user_id).where(IncidentAssignment.incident_id == incident_id),
        select(Incident.coordinator_id).where(Incident.id == incident_id,
                                              Incident.coordinator_id.is_not(None)),
    )
    with db.engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


# Built once: it runs after every commit that records an event, and building the union and its
# cache key again each time cost twice what running it does.
_STAFF_OF_INCIDENTS = union(
    select(IncidentAssignment.incident_id, IncidentAssignment.user_id)
    .where(IncidentAssignment.incident_id.in_(bindparam("ids", expanding=True))),
    select(Incident.id, Incident.coordinator_id)
    .where(Incident.id.in_(bindparam("ids", expanding=True)), Incident.coordinator_id.is_not(None)),
)


def staff_of_incidents(incident_ids: set[int], connection=None) -> dict[int, list[int]]:
    """`staff_of_incident` for many incidents in one query (on `connection`, else one of its own)."""
    if not incident_ids:
        return {}
    ids = sorted(incident_ids)
    staff: dict[int, list[int]] = {i: [] for i in ids}
    if connection is not None:
        rows = connection.execute(_STAFF_OF_INCIDENTS, {"ids": ids}).all()
    else:
        with db.engine.connect() as conn:
            rows = conn.execute(_STAFF_OF_INCIDENTS, {"ids": ids}).all()
    for incident_id, user_id in rows:
        staff[incident_id].append(user_id)
    return {i: sorted(set(users)) for i, users in staff.items()}


def rooms_for(event: TimelineEvent) -> list[str]:
    rooms = [DASHBOARD]
    if event.incident_id is not None:
        rooms.append(incident_room(event.incident_id))
        rooms.extend(user_room(user_id) for user_id in staff_of_incident(event.incident_id))
    return rooms


def event_payload(event: TimelineEvent) -> dict:
    """The socket payload: the facts, and the sentence in every language (crisis.eventtext.render).

    One emit reaches readers of both languages, so the payload carries both:
    `summaries` {"sv": ..., "en": ...}, and `summary` in Swedish. Rendered with
    a session of its own: this runs after the commit, where the committing
    session must not emit SQL.
    """
    from sqlalchemy.orm import Session

    from crisis.eventtext.render import LANGUAGES, render

    payload = event.as_json()
    try:
        with Session(db.engine) as session:
            summaries = {lang: render(event, lang, session) for lang in LANGUAGES}
    except Exception:  # the event still goes out; the page fetches its text on the next refresh
        log.exception("live: rendering timeline event %s failed", event.id)
        return payload
    payload["summary"] = summaries["sv"]
    payload["summaries"] = summaries
    return payload


def publish_event(event: TimelineEvent) -> None:
    if socketio.server is None:  # no app built in this process: nothing to publish through
        return
    queue = socketio.server_options.get("message_queue")
    if queue and not redis_up(queue):
        # Redis down (issue 14): skipped, with one warning per outage (crisis.core.redis_fallback);
        # dashboards catch up through their resync when they reconnect.
        log.debug("live: event %s not published, the message queue is down", event.id)
    else:
        try:
            # One emit to all rooms: a socket in several of them gets the event once.
            socketio.emit(EVENT, event_payload(event), namespace=NAMESPACE, to=rooms_for(event))
        except Exception:  # the commit stands; a reconnecting client fetches the event
            log.exception("live: publishing timeline event %s failed", event.id)
    if event.type == "user.deactivated" and event.subject_id is not None:
        # Deactivation ends the user's sockets, in every web process (issue 5).
        disconnect_user(event.subject_id)


def event_payloads(events: list[TimelineEvent], session, holding=None) -> list[dict]:
    """`event_payload` for a batch: rendered with one session, names looked up once per batch
    (labels that `holding`, the session that recorded the events, has loaded: not at all)."""
    from crisis.eventtext.render import LANGUAGES, render_events

    payloads = [event.as_json() for event in events]
    try:
        rendered = {lang: render_events(events, lang, session, holding) for lang in LANGUAGES}
    except Exception:  # the events still go out; the page fetches their text on the next refresh
        log.exception("live: rendering %d timeline events failed", len(events))
        return payloads
    for n, payload in enumerate(payloads):
        payload["summaries"] = {lang: texts[n] for lang, texts in rendered.items()}
        payload["summary"] = payload["summaries"]["sv"]
    return payloads


def publish_events(events: list[TimelineEvent], *, rendered: bool = False) -> None:
    """`publish_event` for the events of one commit (crisis.timeline.services): one connection and
    one staff query for all of them. `rendered`: with their sentences (`event_payload`), rendered
    in one session; without, the facts only (a bulk batch, whose names would cost a query each)."""
    if socketio.server is None or not events:
        return
    queue = socketio.server_options.get("message_queue")
    if queue and not redis_up(queue):
        log.debug("live: %d events not published, the message queue is down", len(events))
    else:
        from sqlalchemy.orm import Session, object_session

        try:
            # Reads only, each as committed when it runs: no transaction to begin and roll back
            # around them (two round trips after every commit).
            with (db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
                  Session(connection) as session):
                staff = staff_of_incidents({e.incident_id for e in events if e.incident_id is not None},
                                           session.connection())
                payloads = (event_payloads(events, session, object_session(events[0])) if rendered
                            else [e.as_json() for e in events])
        except Exception:
            log.exception("live: looking up the staff of %d events failed", len(events))
            staff, payloads = None, []
        rooms_of: dict[int | None, list[str]] = {}  # a batch is mostly one incident's events: its rooms once
        for event, payload in zip(events, payloads, strict=False):
            rooms = rooms_of.get(event.incident_id)
            if rooms is None:
                rooms = [DASHBOARD]
                if event.incident_id is not None:
                    rooms.append(incident_room(event.incident_id))
                    rooms.extend(user_room(user_id) for user_id in staff.get(event.incident_id, []))
                rooms_of[event.incident_id] = rooms
            try:
                socketio.emit(EVENT, payload, namespace=NAMESPACE, to=rooms)
            except Exception:
                log.exception("live: publishing timeline event %s failed", event.id)
    for event in events:
        if event.type == "user.deactivated" and event.subject_id is not None:
            disconnect_user(event.subject_id)


add_publisher(publish_event, batch=publish_events)
