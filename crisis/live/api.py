"""API of the live dashboard: catching up on missed events, and the dashboard's figures.

A client of the `/live` Socket.IO namespace remembers the ids of the events it
has seen. After a reconnect it asks `GET /events?after=<id>` for what it
missed and drops ids it already has: no gaps, no duplicates. The events are
exactly those its sockets would have received (crisis.live.publish).
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from crisis.auth.models import Availability
from crisis.auth.permissions import login_required
from crisis.core.api import ApiError, api
from crisis.core.db import db, utcnow
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import NEXT_CURSOR, page_from_request, paging_parameters
from crisis.eventtext.serializers import events_json
from crisis.incidents.access import can_view_incident
from crisis.incidents.models import Incident, IncidentStatus, IncidentType, Outcome, ThreatLevel
from crisis.live import dashboard

MAX_EVENTS = 500
DASHBOARD_MAX = 200


def _int_arg(name: str, *, default: int | None, minimum: int, maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "Bad Request", f"{name} must be a whole number, not {raw[:40]!r}.") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(400, "Bad Request", f"{name} must be {bounds}.")
    return value


MAX_ID = 2**31 - 1  # incident ids are 32-bit integers on PostgreSQL


def _visible_incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id) if incident_id <= MAX_ID else None
    if incident is None:
        raise ApiError(404, "Not Found", f"There is no incident {incident_id}.")
    if not can_view_incident(db.session, current_user, incident):
        raise ApiError(403, "Forbidden", "You are not assigned to this incident.")
    return incident


@api.get("/events")
@login_required
def list_events_after():
    after = _int_arg("after", default=0, minimum=0, maximum=2**63 - 1)
    incident_id = _int_arg("incident_id", default=None, minimum=1, maximum=MAX_ID)
    limit = page_from_request(default=200, maximum=MAX_EVENTS).limit
    if incident_id is not None:
        _visible_incident(incident_id)
    events, has_more = dashboard.events_after(db.session, current_user, after,
                                              incident_id=incident_id, limit=limit)
    from crisis.core.i18n import api_language

    return {"items": events_json(events, api_language(), db.session), "has_more": has_more}


@api.get("/dashboard")
@login_required
def get_dashboard():
    page = page_from_request(default=dashboard.PAGE_SIZE, maximum=DASHBOARD_MAX)
    search = request.args.get("q") or None
    if search is not None and len(search) > 100:
        raise ApiError(422, "Unprocessable Content", "q may be at most 100 characters.", field="q")
    now = utcnow()
    cards = dashboard.incident_cards(db.session, current_user, now=now, limit=page.limit + 1,
                                     offset=page.offset, search=search)
    has_more = len(cards) > page.limit
    cards = cards[: page.limit]
    everything = dashboard.sees_everything(current_user)
    teams = dashboard.team_availability(db.session) if everything else []
    return {
        "generated_at": now.isoformat(),
        "resume_after": dashboard.resume_after(db.session, current_user, now),
        "incidents": [c.as_json() for c in cards],
        "next_cursor": page.next_cursor(has_more),
        "teams": [t.as_json() for t in teams],
    }


@api.get("/dashboard/incidents/<int:incident_id>")
@login_required
def get_dashboard_incident(incident_id: int):
    _visible_incident(incident_id)
    (card,) = dashboard.incident_cards(db.session, current_user, incident_ids=[incident_id])
    return card.as_json()


_CARD_SCHEMA = {
    "type": "object",
    "required": ["id", "reference", "type", "status", "district", "activated_at", "open_tasks",
                 "overdue_tasks", "relatives", "relatives_reached", "dispatches_acknowledged",
                 "dispatches_pending"],
    "properties": {
        "id": {"type": "integer"},
        "reference": {"type": "string"},
        "type": {"enum": [t.value for t in IncidentType]},
        "status": {"enum": [s.value for s in IncidentStatus]},
        "threat_level": {"enum": [t.value for t in ThreatLevel]},
        "outcome": {"enum": [o.value for o in Outcome]},
        "district": {"type": "string"},
        "activated_at": {"type": "string", "format": "date-time"},
        "open_tasks": {"type": "integer", "description": "open, in progress or blocked"},
        "overdue_tasks": {"type": "integer", "description": "open tasks past their deadline"},
        "next_due_at": {"type": ["string", "null"], "format": "date-time",
                        "description": "when the next open task becomes overdue"},
        "relatives": {"type": "integer"},
        "relatives_reached": {"type": "integer", "description": "relatives whose first contact is recorded"},
        "dispatches_acknowledged": {"type": "integer"},
        "dispatches_pending": {"type": "integer"},
        "dispatches_exhausted": {"type": "integer", "description": "nobody acknowledged"},
        "blocked_reasons": {"type": "array", "items": {"type": "string"},
                            "description": "why blocked tasks are blocked, as their owners wrote it"},
    },
}
_TEAM_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "district", "members", "available"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "district": {"type": "string"},
        "available": {"type": "integer"},
        "members": {"type": "array", "items": {
            "type": "object", "required": ["user_id", "name", "position", "availability"],
            "properties": {"user_id": {"type": "integer"}, "name": {"type": "string"},
                           "position": {"type": "integer", "description": "on-call order"},
                           "availability": {"enum": [a.value for a in Availability]},
                           "on_the_way": {"type": "boolean",
                                          "description": "acknowledged an alert of an active incident lately"}}}},
    },
}
_ROLES = ", ".join(r.value for r in dashboard.DASHBOARD_ROLES)

document(
    paths={
        "/events": {"get": {
            "summary": "Timeline events after a given event (catching up after a reconnect)",
            "description": "The events the caller may see with id greater than `after`, oldest first. "
                           f"Roles {_ROLES} see every event; outreach staff the events of the "
                           "incidents they are assigned to: the same events their sockets receive as "
                           "`timeline` on the Socket.IO namespace /live. Fetch again with the last id "
                           "while `has_more` is true.",
            "operationId": "listEventsAfter", "tags": ["live"],
            "parameters": [
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                              "maximum": 2**63 - 1, "default": 0}},
                {"name": "incident_id", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                    "maximum": MAX_ID}},
                paging_parameters(default=200, maximum=MAX_EVENTS)[0],
            ],
            "responses": {"200": {"description": "Events", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items", "has_more"],
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEvent"}},
                               "has_more": {"type": "boolean"}}}}}},
                **problem_responses(400, 401, 403, 404, 422)},
        }},
        "/dashboard": {"get": {
            "summary": "The live dashboard (lägesbild): active incidents and team availability",
            "description": "Relatives appear only as counts. `teams` is empty for outreach staff, who "
                           "see only their incidents. Resume the event stream with "
                           "GET /events?after=`resume_after`.",
            "operationId": "getDashboard", "tags": ["live"],
            "parameters": [
                *paging_parameters(default=dashboard.PAGE_SIZE, maximum=DASHBOARD_MAX),
                {"name": "q", "in": "query", "required": False,
                 "description": "Only incidents whose reference or district contains this.",
                 "schema": {"type": "string", "maxLength": 100}},
            ],
            "responses": {"200": {"description": "The dashboard", "content": {"application/json": {"schema": {
                "type": "object", "required": ["generated_at", "resume_after", "incidents", "teams"],
                "properties": {
                    "generated_at": {"type": "string", "format": "date-time"},
                    "resume_after": {"type": "integer"},
                    "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/DashboardIncident"},
                                  "description": "Most urgent first: unacknowledged alerts, then overdue "
                                                 "tasks, then the newest activation."},
                    "next_cursor": NEXT_CURSOR,
                    "teams": {"type": "array", "items": {"$ref": "#/components/schemas/TeamAvailability"}},
                }}}}}, **problem_responses(401, 403, 422)},
        }},
        "/dashboard/incidents/{incident_id}": {"get": {
            "summary": "One incident's dashboard figures (whatever its status)",
            "operationId": "getDashboardIncident", "tags": ["live"],
            "parameters": [{"name": "incident_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}],
            "responses": {"200": {"description": "The incident's figures", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DashboardIncident"}}}},
                **problem_responses(401, 403, 404)},
        }},
    },
    # TimelineEvent (TimelineEvent.as_json()) is described with the incident timeline.
    schemas={"DashboardIncident": _CARD_SCHEMA, "TeamAvailability": _TEAM_SCHEMA},
)
