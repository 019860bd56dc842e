"""API: the SMS outbox and each text's status history (coordinators and admins)."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from sqlalchemy import select

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.core.api import ApiError, api
from crisis.core.db import db
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import NEXT_CURSOR, page_from_request, page_of_query, paging_parameters
from crisis.messaging.models import Direction, Message, MessageStatus
from crisis.messaging.services import readable_body, recipient_label

#: What a text from a relative with protected identity reads as to everyone else (issue 9).
PROTECTED_BODY = "[hidden: protected identity]"
#: Ids are 32-bit on every engine; a larger number names nothing (and would overflow SQLite).
ID_MAX = 2**31 - 1


def message_json(message: Message, history: bool = False) -> dict:
    """A text without numbers: staff by id, relatives by label."""
    body = {
        "id": message.id,
        "direction": message.direction.value,
        "purpose": message.purpose,
        "status": message.status.value,
        "error_code": message.error_code,
        "recipient": recipient_label(message),
        "recipient_user_id": message.recipient_user_id,
        "recipient_relative_id": message.recipient_relative_id,
        "incident_id": message.incident_id,
        "dispatch_id": message.dispatch_id,
        "language": message.language,
        "body": PROTECTED_BODY if (text := readable_body(db.session, message, current_user)) is None else text,
        "provider_id": message.provider_id,
        "attempts": message.attempts,
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "expires_at": message.expires_at.isoformat() if message.expires_at else None,
    }
    if history:
        body["status_history"] = [
            {"status": e.status.value, "source": e.source, "error_code": e.error_code, "at": e.at.isoformat()}
            for e in message.status_events
        ]
    return body


MESSAGES_MAX = 500


@api.get("/messages")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def list_messages():
    page = page_from_request(default=100, maximum=MESSAGES_MAX)
    query = select(Message)
    for name, enum_cls, column in (("direction", Direction, Message.direction),
                                   ("status", MessageStatus, Message.status)):
        value = request.args.get(name)
        if value is not None:
            try:
                query = query.where(column == enum_cls(value))
            except ValueError:
                allowed = ", ".join(m.value for m in enum_cls)
                raise ApiError(400, "Bad Request", f"{name} must be one of: {allowed}.") from None
    for name, column in (("incident_id", Message.incident_id), ("dispatch_id", Message.dispatch_id)):
        if name in request.args:
            value = request.args.get(name, type=int)
            if value is None or not 1 <= value <= ID_MAX:
                raise ApiError(400, "Bad Request", f"{name} must be an id (a whole number from 1).")
            query = query.where(column == value)
    before = request.args.get("before_id")
    if before is not None:
        if not before.isdigit() or not 1 <= int(before) <= ID_MAX:
            raise ApiError(400, "Bad Request", "before_id must be a message id (a whole number from 1).")
        query = query.where(Message.id < int(before))
    rows, next_cursor = page_of_query(db.session, query.order_by(Message.id.desc()), page)
    return {"items": [message_json(m) for m in rows], "next_cursor": next_cursor}


@api.get("/messages/<int:message_id>")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def get_message(message_id: int):
    message = db.session.get(Message, message_id) if message_id <= ID_MAX else None
    if message is None:
        raise ApiError(404, "Not Found", f"No message {message_id}.")
    return message_json(message, history=True)


_MESSAGE = {"$ref": "#/components/schemas/Message"}


def _query(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


document(
    paths={
        "/messages": {"get": {
            "summary": "SMS in and out, newest first", "operationId": "listMessages", "tags": ["messaging"],
            "parameters": [
                _query("direction", {"enum": [d.value for d in Direction]}),
                _query("status", {"enum": [s.value for s in MessageStatus]}),
                _query("incident_id", {"type": "integer", "minimum": 1, "maximum": ID_MAX}),
                _query("dispatch_id", {"type": "integer", "minimum": 1, "maximum": ID_MAX}),
                _query("before_id", {"type": "integer", "minimum": 1, "maximum": ID_MAX}),
                *paging_parameters(default=100, maximum=MESSAGES_MAX),
            ],
            "responses": {"200": {"description": "Texts", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": _MESSAGE}, "next_cursor": NEXT_CURSOR}}}}},
                **problem_responses(400, 401, 403, 422)},
        }},
        "/messages/{message_id}": {"get": {
            "summary": "One text with every status reported for it", "operationId": "getMessage",
            "tags": ["messaging"],
            "parameters": [{"name": "message_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}],
            "responses": {"200": {"description": "The text", "content": {"application/json": {
                "schema": _MESSAGE}}}, **problem_responses(401, 403, 404)},
        }},
    },
    schemas={"Message": {
        "type": "object",
        "required": ["id", "direction", "purpose", "status", "body", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "direction": {"enum": [d.value for d in Direction]},
            "purpose": {"type": "string"},
            "status": {"enum": [s.value for s in MessageStatus]},
            "error_code": {"type": ["string", "null"]},
            "recipient": {"type": "string", "description": "staff id or relative label; never a number"},
            "recipient_user_id": {"type": ["integer", "null"]},
            "recipient_relative_id": {"type": ["integer", "null"]},
            "incident_id": {"type": ["integer", "null"]},
            "dispatch_id": {"type": ["integer", "null"]},
            "language": {"type": "string"},
            "body": {"type": "string"},
            "provider_id": {"type": ["string", "null"]},
            "attempts": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "status_history": {"type": "array", "items": {"type": "object", "properties": {
                "status": {"enum": [s.value for s in MessageStatus]}, "source": {"type": "string"},
                "error_code": {"type": ["string", "null"]}, "at": {"type": "string", "format": "date-time"},
            }}},
        },
    }},
)
