"""API: a person's own push devices, turning push on and off for this one, a test notification.

Called by the device page (static/js/push.js) with the session cookie and `X-CSRFToken`, or
with a bearer token. Everyone sees and changes only their own subscriptions.
"""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from sqlalchemy import select

from crisis.auth.permissions import login_required
from crisis.core.api import ApiError, api, json_body
from crisis.core.db import db
from crisis.core.extensions import limiter
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import NEXT_CURSOR, page_from_request, page_of_list, paging_parameters
from crisis.push import services
from crisis.push.models import PushSubscription


def subscription_json(row: PushSubscription) -> dict:
    """A device as its owner sees it: never the endpoint or the keys (the hash finds "this one")."""
    return {
        "id": row.id,
        "device_label": row.device_label,
        "endpoint_hash": row.endpoint_hash,
        "active": row.active,
        "created_at": _iso(row.created_at),
        "last_success_at": _iso(row.last_success_at),
        "last_failure_at": _iso(row.last_failure_at),
        "last_failure": row.last_failure,
        "removed_at": _iso(row.removed_at),
        "removed_reason": row.removed_reason,
    }


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _state() -> dict:
    reason = services.unavailable_reason()
    return {"available": reason is None, "reason": reason,
            "public_key": current_app.config.get("VAPID_PUBLIC_KEY") if reason is None else None}


SUBSCRIPTIONS_PAGE, SUBSCRIPTIONS_MAX = 50, 200


@api.get("/push/subscriptions")
@login_required
def list_subscriptions():
    page = page_from_request(default=SUBSCRIPTIONS_PAGE, maximum=SUBSCRIPTIONS_MAX)
    rows, next_cursor = page_of_list(services.user_subscriptions(db.session, current_user.id), page)
    return {**_state(), "items": [subscription_json(s) for s in rows], "next_cursor": next_cursor}


@api.post("/push/subscriptions")
@login_required
def create_subscription():
    if services.unavailable_reason() is not None:
        raise ApiError(409, "Conflict", "Push alerts are not available on this server (no VAPID keys are set).")
    data = json_body()
    unknown = set(data) - {"endpoint", "keys", "device_label", "expirationTime"}
    if unknown:
        raise ApiError(422, "Unprocessable Content", f"Unknown fields: {', '.join(sorted(unknown))}.")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise ApiError(422, "Unprocessable Content", "keys must be the subscription's keys: {p256dh, auth}.")
    label = data.get("device_label")
    if label is not None and not isinstance(label, str):
        raise ApiError(422, "Unprocessable Content", "device_label must be text.")
    try:
        row = services.subscribe(db.session, current_user, endpoint=data.get("endpoint"), p256dh=keys.get("p256dh"),
                                 auth=keys.get("auth"), device_label=label)
    except services.PushError as error:
        db.session.rollback()
        raise ApiError(422, "Unprocessable Content", str(error)) from None
    db.session.commit()
    return subscription_json(row), 201


@api.delete("/push/subscriptions/<int:subscription_id>")
@login_required
def delete_subscription(subscription_id: int):
    row = db.session.scalar(select(PushSubscription).where(PushSubscription.id == subscription_id,
                                                           PushSubscription.user_id == current_user.id))
    if row is None:
        raise ApiError(404, "Not Found", "You have no such push subscription.")
    services.unsubscribe(db.session, current_user, row)
    db.session.commit()
    return subscription_json(row)


@api.post("/push/test")
@login_required
@limiter.limit("6 per minute")
def send_test():
    config = services.push_config()
    if config is None:
        raise ApiError(409, "Conflict", "Push alerts are not available on this server (no VAPID keys are set).")
    language = getattr(current_user, "language", None) or "sv"
    result = services.send_test(db.session, config, current_user, language=language)
    db.session.commit()
    if not result["devices"]:
        raise ApiError(409, "Conflict", "Push is not turned on for any of your devices; turn it on first.")
    return {**result, "items": [subscription_json(s) for s in services.user_subscriptions(db.session, current_user.id)]}


_ID = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_SUB = {"$ref": "#/components/schemas/PushSubscription"}
_LIST = {"type": "object", "required": ["available", "items"], "properties": {
    "available": {"type": "boolean"}, "reason": {"type": ["string", "null"]},
    "public_key": {"type": ["string", "null"], "description": "The VAPID key for applicationServerKey."},
    "items": {"type": "array", "items": _SUB}, "next_cursor": NEXT_CURSOR}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


document(
    paths={
        "/push/subscriptions": {
            "get": {
                "summary": "My devices with push alerts, and whether this server can send them",
                "operationId": "listPushSubscriptions", "tags": ["push"],
                "parameters": paging_parameters(default=SUBSCRIPTIONS_PAGE, maximum=SUBSCRIPTIONS_MAX),
                "responses": {"200": _json(_LIST, "Devices, active first"), **problem_responses(401, 422)},
            },
            "post": {
                "summary": "Turn on push alerts for this browser (its PushSubscription as JSON)",
                "operationId": "createPushSubscription", "tags": ["push"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["endpoint", "keys"], "additionalProperties": False,
                    "properties": {
                        "endpoint": {"type": "string", "maxLength": 1000},
                        "expirationTime": {"type": ["number", "null"]},
                        "keys": {"type": "object", "required": ["p256dh", "auth"], "properties": {
                            "p256dh": {"type": "string"}, "auth": {"type": "string"}}},
                        "device_label": {"type": ["string", "null"], "maxLength": 80},
                    }}}}},
                "responses": {"201": _json(_SUB, "The device"),
                              **problem_responses(400, 401, 403, 409, 415, 422)},
            },
        },
        "/push/subscriptions/{subscription_id}": {"delete": {
            "summary": "Turn off push alerts for one of my devices", "operationId": "deletePushSubscription",
            "tags": ["push"], "parameters": [{"name": "subscription_id", **_ID}],
            "responses": {"200": _json(_SUB, "The device, now off"), **problem_responses(401, 403, 404)},
        }},
        "/push/test": {"post": {
            "summary": "Send a test notification (\"Testnotis\") to all my devices",
            "operationId": "sendPushTest", "tags": ["push"],
            "responses": {"200": _json({"type": "object", "properties": {
                "devices": {"type": "integer"}, "accepted": {"type": "integer"}, "removed": {"type": "integer"},
                "items": {"type": "array", "items": _SUB}, "next_cursor": NEXT_CURSOR}}, "What the push services answered"),
                **problem_responses(401, 403, 409, 429)},
        }},
    },
    schemas={"PushSubscription": {
        "type": "object", "required": ["id", "active", "endpoint_hash"],
        "properties": {
            "id": {"type": "integer"}, "device_label": {"type": ["string", "null"]},
            "endpoint_hash": {"type": "string", "description": "SHA-256 of the endpoint, to find this browser's"},
            "active": {"type": "boolean"},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "last_success_at": {"type": ["string", "null"], "format": "date-time"},
            "last_failure_at": {"type": ["string", "null"], "format": "date-time"},
            "last_failure": {"type": ["string", "null"]},
            "removed_at": {"type": ["string", "null"], "format": "date-time"},
            "removed_reason": {"enum": [None, "gone", "unsubscribed", "replaced"]},
        },
    }},
)
