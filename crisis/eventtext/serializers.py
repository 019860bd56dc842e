"""The API's JSON for timeline events (each with its sentence in the asked language), and the
component schemas it publishes for them (TimelineEvent, TimelinePage)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crisis.core.apischema import ID_OR_NULL, NEXT_CURSOR_SCHEMA, TIME
from crisis.core.openapi import document
from crisis.eventtext.render import render_events


def events_json(events: list, language: str, session: Session) -> list[dict]:
    summaries = render_events(events, language, session)
    return [{**e.as_json(), "summary": s} for e, s in zip(events, summaries, strict=True)]


document(schemas={
    "TimelineEvent": {
        "type": "object", "required": ["id", "occurred_at", "kind", "type", "summary"],
        "properties": {
            "id": {"type": "integer"}, "incident_id": ID_OR_NULL, "occurred_at": TIME,
            "actor_id": ID_OR_NULL, "actor": {"type": "string"}, "kind": {"type": "string"},
            "type": {"type": "string"}, "subject_type": {"type": ["string", "null"]},
            "subject_id": ID_OR_NULL, "summary": {"type": "string"}, "data": {"type": "object"},
        },
    },
    "TimelinePage": {
        "type": "object", "required": ["items", "has_more", "next_after"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEvent"}},
            "has_more": {"type": "boolean"},
            "next_after": {"type": ["integer", "null"],
                           "description": "Pass as `after` to continue (or to poll for newer events)."},
            "next_cursor": NEXT_CURSOR_SCHEMA,
        },
    },
})
