"""API: the data-subject export of a relative (managers and admins; logged)."""

from __future__ import annotations

from flask_login import current_user

from crisis.auth.permissions import roles_required
from crisis.core.api import ApiError, api, json_body
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.incidents.models import Relative
from crisis.retention.routes import EXPORT_ROLES
from crisis.retention.services import RetentionError, data_subject_export


@api.post("/relatives/<int:relative_id>/data-subject-export")
@roles_required(*EXPORT_ROLES)
def export_relative_data(relative_id: int):
    body = json_body()
    reason = body.get("reason")
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= 300:
        raise ApiError(422, "Unprocessable Content",
                       "reason is required: 3 to 300 characters saying why the export is made.")
    relative = db.session.get(Relative, relative_id) if 0 < relative_id <= 2**31 - 1 else None
    if relative is None:
        raise ApiError(404, "Not Found", f"No relative with id {relative_id}.")
    if relative.protected_identity:
        # Two people (issue 14): requested and approved on the privacy page, never in one call.
        raise ApiError(409, "Conflict", "Protected identity: the export needs a request approved by a second "
                                        "manager or admin; make the request on the privacy page (/privacy).")
    try:
        data = data_subject_export(db.session, relative, actor=current_user, reason=reason)
    except RetentionError as error:
        db.session.rollback()
        raise ApiError(422, "Unprocessable Content", str(error)) from None
    db.session.commit()
    return data


_SECTION = {"type": "array", "items": {"type": "object"}}

document(
    paths={"/relatives/{relative_id}/data-subject-export": {"post": {
        "summary": "Everything held about a relative (GDPR art. 15); logged in the access log",
        "operationId": "exportRelativeData", "tags": ["privacy"],
        "parameters": [{"name": "relative_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 3, "maxLength": 300,
                                      "description": "Why the export is made, for the access log."}}}}}},
        "responses": {
            "200": {"description": "The export", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/DataSubjectExport"}}}},
            **problem_responses(400, 401, 403, 404, 409, 415, 422),
        },
    }}},
    schemas={"DataSubjectExport": {
        "type": "object",
        "required": ["export", "relative", "incident", "consent_history", "tasks", "follow_ups", "referrals",
                     "messages", "access_log", "timeline"],
        "properties": {
            "export": {"type": "object"}, "relative": {"type": "object"}, "incident": {"type": "object"},
            "consent_history": _SECTION, "tasks": _SECTION, "follow_ups": _SECTION, "referrals": _SECTION,
            "messages": _SECTION, "access_log": _SECTION, "timeline": _SECTION,
        },
    }},
)
