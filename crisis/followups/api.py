"""API: my follow-ups this week, one follow-up, a relative's schedule; record an outcome, move a date.

Changes name the version they were based on (If-Match or `version`), as for
tasks: a stale one is refused with 409/412 and the current version. Lists show
a relative by label only ("Anhörig 2"), and not even that for a relative
with protected identity unless the caller may see that relative's record.
"""

from __future__ import annotations

from flask_login import current_user

from crisis.auth.permissions import login_required
from crisis.core.api import ApiError, api
from crisis.core.apischema import (
    ETAG,
    IF_MATCH,
    INVALID,
    STALE,
    datetime_schema,
    enum_schema,
    expected_version,
    id_schema,
    json_response,
    perform,
    read_body,
    read_query,
    row_or_404,
    text_schema,
    unprocessable,
)
from crisis.core.db import db, utcnow
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import page_from_request, page_of_list, paging_parameters
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.followups.services import (
    DeclineReason,
    FollowUpOutcome,
    RescheduleReason,
    Scope,
    Week,
    WeekError,
    can_view_follow_up,
    can_work_on,
    follow_up_json,
    overdue_follow_ups,
    record_outcome,
    relative_follow_ups,
    reschedule,
    week_follow_ups,
)
from crisis.incidents import access
from crisis.incidents.models import ContactChannel, Relative

TAGS = ["followups"]


class RelativeVisibility:
    """Whether the caller may see each relative's label (protected identity), one query per relative."""

    def __init__(self, user):
        self.user = user
        self._seen: dict[int, bool] = {}

    def __call__(self, follow_up: FollowUp) -> bool:
        relative = follow_up.relative
        if not relative.protected_identity:
            return True
        if relative.id not in self._seen:
            self._seen[relative.id] = access.can_see_relative_details(db.session, self.user, relative)
        return self._seen[relative.id]


def items_json(follow_ups: list[FollowUp]) -> list[dict]:
    visible = RelativeVisibility(current_user)
    return [follow_up_json(f, show_relative=visible(f)) for f in follow_ups]


def one_json(follow_up: FollowUp) -> dict:
    sees = access.can_see_relative_details(db.session, current_user, follow_up.relative)
    may_work = can_work_on(db.session, current_user, follow_up)
    # The note may say things about the relative: only to those who may read the record.
    return follow_up_json(follow_up, show_relative=sees or not follow_up.relative.protected_identity,
                          include_note=sees or may_work)


def with_etag(body: dict, status: int = 200):
    return body, status, {"ETag": f'"{body["version"]}"'}


def visible_follow_up(follow_up_id: int) -> FollowUp:
    follow_up = row_or_404(db.session, FollowUp, follow_up_id, "follow-up")
    if not can_view_follow_up(db.session, current_user, follow_up):
        raise ApiError(403, "Forbidden", "You are not assigned to this incident; "
                                         "ask its coordinator to assign you.")
    return follow_up


def workable_follow_up(follow_up_id: int) -> FollowUp:
    follow_up = visible_follow_up(follow_up_id)
    if not can_work_on(db.session, current_user, follow_up):
        raise ApiError(403, "Forbidden", "Follow-ups are recorded by their owner, staff assigned to the incident "
                                         "and coordinators (for protected identity: the contact person and "
                                         "the incident's coordinator).")
    return follow_up


WEEK_PARAMETERS = [
    {"name": "week", "in": "query", "description": "ISO week in Stockholm, e.g. 2026-W25 (default: this week).",
     "schema": {"type": "string", "pattern": "^[0-9]{4}-[Ww][0-9]{1,2}$"}},
    {"name": "scope", "in": "query",
     "description": "mine: follow-ups I own (default); coordinated: all follow-ups of the incidents I coordinate.",
     "schema": enum_schema(Scope)},
]


FOLLOW_UPS_MAX = 500


@api.get("/me/followups")
@login_required
def list_my_follow_ups():
    """Uppföljningar denna vecka: the week's follow-ups, and open ones overdue from before it."""
    page = page_from_request(default=200, maximum=FOLLOW_UPS_MAX)
    args = read_query(WEEK_PARAMETERS)
    now = utcnow()
    try:
        week = Week.parse(args["week"]) if "week" in args else Week.containing(now)
    except WeekError as error:
        raise unprocessable([("week", str(error))]) from None
    scope = Scope(args.get("scope", Scope.MINE))
    items = week_follow_ups(db.session, current_user, week, scope)
    overdue = overdue_follow_ups(db.session, current_user, week.starts_at, scope) \
        if week == Week.containing(now) else []
    # One page runs through the overdue ones first, then the week's.
    rows, next_cursor = page_of_list([("overdue", f) for f in overdue] + [("week", f) for f in items], page)
    return {"week": str(week), "starts_at": week.starts_at.isoformat(), "ends_at": week.ends_at.isoformat(),
            "scope": scope.value, "overdue": items_json([f for k, f in rows if k == "overdue"]),
            "items": items_json([f for k, f in rows if k == "week"]), "next_cursor": next_cursor}


@api.get("/followups/<int:follow_up_id>")
@login_required
def get_follow_up(follow_up_id: int):
    return with_etag(one_json(visible_follow_up(follow_up_id)))


@api.get("/relatives/<int:relative_id>/followups")
@login_required
def list_relative_follow_ups(relative_id: int):
    """The relative's whole schedule, as the playbook laid it out and as it went."""
    page = page_from_request(default=200, maximum=FOLLOW_UPS_MAX)
    relative = row_or_404(db.session, Relative, relative_id, "relative")
    if not access.can_view_incident(db.session, current_user, relative.incident):
        raise ApiError(403, "Forbidden", "You are not assigned to this incident; "
                                         "ask its coordinator to assign you.")
    if relative.protected_identity and not access.can_see_relative_details(db.session, current_user, relative):
        raise ApiError(403, "Forbidden", "This relative has protected identity: only the contact person and the "
                                         "incident's coordinator see their follow-ups.")
    rows, next_cursor = page_of_list(relative_follow_ups(db.session, relative), page)
    return {"relative_id": relative.id, "items": items_json(rows), "next_cursor": next_cursor}


@api.post("/followups/<int:follow_up_id>/outcome")
@login_required
def record_follow_up_outcome(follow_up_id: int):
    follow_up = workable_follow_up(follow_up_id)
    data = read_body("FollowUpOutcomeRequest")
    version, from_header = expected_version(data)
    result = perform(
        db.session,
        lambda: record_outcome(
            db.session, follow_up, actor=current_user, outcome=data["outcome"], note=data.get("note"),
            channel=data.get("channel"), decline_reason=data.get("decline_reason"), expected_version=version,
        ),
        from_header=from_header, current_version=lambda: db.session.get(FollowUp, follow_up_id).version,
    )
    body = one_json(result.follow_up)
    body["cancelled_follow_up_ids"] = [f.id for f in result.cancelled]
    return with_etag(body)


@api.post("/followups/<int:follow_up_id>/reschedule")
@login_required
def reschedule_follow_up(follow_up_id: int):
    follow_up = workable_follow_up(follow_up_id)
    data = read_body("FollowUpRescheduleRequest")
    version, from_header = expected_version(data)
    perform(
        db.session,
        lambda: reschedule(db.session, follow_up, actor=current_user, due_at=data["due_at"],
                           reason=data["reason"], expected_version=version),
        from_header=from_header, current_version=lambda: db.session.get(FollowUp, follow_up_id).version,
    )
    return with_etag(one_json(follow_up))


FOLLOW_UP_ID = {"name": "follow_up_id", "in": "path", "required": True, "schema": id_schema("The follow-up's id.")}
RELATIVE_ID = {"name": "relative_id", "in": "path", "required": True, "schema": id_schema("The relative's id.")}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/FollowUp"}}

document(
    paths={
        "/me/followups": {"get": {
            "summary": "Follow-ups this week (mine, or of the incidents I coordinate), with earlier overdue ones",
            "operationId": "listMyFollowUps", "tags": TAGS, "parameters": [*WEEK_PARAMETERS, *paging_parameters(default=200, maximum=FOLLOW_UPS_MAX)],
            "responses": {"200": json_response("FollowUpWeek", "The week's follow-ups"),
                          **problem_responses(401), **INVALID},
        }},
        "/followups/{follow_up_id}": {"get": {
            "summary": "A follow-up", "operationId": "getFollowUp", "tags": TAGS, "parameters": [FOLLOW_UP_ID],
            "responses": {"200": json_response("FollowUp", "The follow-up", headers=ETAG),
                          **problem_responses(401, 403, 404)},
        }},
        "/relatives/{relative_id}/followups": {"get": {
            "summary": "A relative's follow-up schedule", "operationId": "listRelativeFollowUps", "tags": TAGS,
            "parameters": [RELATIVE_ID, *paging_parameters(default=200, maximum=FOLLOW_UPS_MAX)],
            "responses": {"200": json_response("FollowUpSchedule", "The schedule, earliest first"),
                          **problem_responses(401, 403, 404), **INVALID},
        }},
        "/followups/{follow_up_id}/outcome": {"post": {
            "summary": "Record the outcome of a follow-up contact", "operationId": "recordFollowUpOutcome",
            "tags": TAGS, "parameters": [FOLLOW_UP_ID, IF_MATCH],
            "description": "reached; not_reached (a new attempt is planned the next working day, the next day "
                           "for acute follow-ups, and the owner is reminded again); declined (the relative "
                           "declined further contact: give decline_reason; the relative's remaining "
                           "follow-ups are cancelled and listed in cancelled_follow_up_ids).",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/FollowUpOutcomeRequest"}}}},
            "responses": {"200": json_response("FollowUpOutcomeResult", "The follow-up", headers=ETAG),
                          **problem_responses(400, 401, 403, 404, 415), **INVALID, **STALE},
        }},
        "/followups/{follow_up_id}/reschedule": {"post": {
            "summary": "Move an open follow-up to another moment", "operationId": "rescheduleFollowUp",
            "tags": TAGS, "parameters": [FOLLOW_UP_ID, IF_MATCH],
            "description": "A moment chosen by staff is kept even on a weekend or public holiday; the owner "
                           "is reminded on the new day.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/FollowUpRescheduleRequest"}}}},
            "responses": {"200": json_response("FollowUp", "The follow-up", headers=ETAG),
                          **problem_responses(400, 401, 403, 404, 415), **INVALID, **STALE},
        }},
    },
    schemas={
        "FollowUp": {
            "type": "object",
            "required": ["id", "incident_id", "incident_reference", "relative_id", "label", "due_at", "status",
                         "open", "version"],
            "properties": {
                "id": {"type": "integer"}, "incident_id": {"type": "integer"},
                "incident_reference": {"type": "string"}, "relative_id": {"type": "integer"},
                "relative_label": {"type": ["string", "null"],
                                   "description": "Null for a relative with protected identity you may not see."},
                "label": {"type": "string", "description": "The playbook's offset, e.g. 1w or 3mo."},
                "planned_due_at": {**_TIME_OR_NULL, "description": "As the playbook said."},
                "due_at": {**_TIME_OR_NULL, "description": "After moving off a weekend or holiday, a retry "
                                                           "or a new date; null until the anchor is known."},
                "shifted": {"type": "boolean"}, "acute": {"type": "boolean"},
                "channel": {"type": "string"}, "owner_user_id": {"type": ["integer", "null"]},
                "status": enum_schema(FollowUpStatus), "open": {"type": "boolean"},
                "cancel_reason": {"type": ["string", "null"]},
                "reminder_sent_at": _TIME_OR_NULL, "escalated_at": _TIME_OR_NULL, "completed_at": _TIME_OR_NULL,
                "outcome_note": {"type": ["string", "null"],
                                 "description": "Only in the single follow-up, to those who may read it."},
                "version": {"type": "integer"},
            },
        },
        "FollowUpWeek": {
            "type": "object", "required": ["week", "starts_at", "ends_at", "scope", "overdue", "items"],
            "properties": {
                "week": {"type": "string"}, "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"}, "scope": enum_schema(Scope),
                "overdue": {**_LIST, "description": "Open, due before this week (only for the current week)."},
                "items": _LIST, "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."},
            },
        },
        "FollowUpSchedule": {
            "type": "object", "required": ["relative_id", "items"],
            "properties": {"relative_id": {"type": "integer"}, "items": _LIST, "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."}},
        },
        "FollowUpOutcomeResult": {
            "allOf": [{"$ref": "#/components/schemas/FollowUp"}],
            "type": "object",
            "properties": {"cancelled_follow_up_ids": {"type": "array", "items": {"type": "integer"}}},
        },
        "FollowUpOutcomeRequest": {
            "type": "object", "additionalProperties": False, "required": ["outcome"],
            "properties": {
                "outcome": enum_schema(FollowUpOutcome),
                "decline_reason": {**enum_schema(DeclineReason), "description": "Required when outcome is declined."},
                "channel": enum_schema(ContactChannel, "How the contact was made (default: as planned)."),
                "note": text_schema(5000, "Kept encrypted in the record; never in the timeline or an SMS.",
                                    nullable=True),
                "version": {"type": "integer", "minimum": 1, "description": "The version you read (or If-Match)."},
            },
        },
        "FollowUpRescheduleRequest": {
            "type": "object", "additionalProperties": False, "required": ["due_at", "reason"],
            "properties": {
                "due_at": datetime_schema("The new moment, today or later"),
                "reason": enum_schema(RescheduleReason),
                "version": {"type": "integer", "minimum": 1, "description": "The version you read (or If-Match)."},
            },
        },
    },
)
