"""Twilio's webhooks: delivery status and incoming SMS (docs/architecture.md "Twilio webhooks").

Both are checked with Twilio's `RequestValidator` against the URL Twilio
used, rebuilt from `PUBLIC_BASE_URL` (correct behind a proxy or TLS
terminator; crisis.messaging.twilio_signature). A missing or wrong signature
gets 403 and changes nothing. Both are idempotent: Twilio repeats a webhook
it got no answer to, and a repeated status or message is kept once.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import IntegrityError
from twilio.twiml.messaging_response import MessagingResponse

from crisis.core.db import db
from crisis.core.extensions import csrf, limiter
from crisis.messaging.services import apply_status_callback, receive_inbound
from crisis.messaging.twilio_signature import verify_twilio_request

log = logging.getLogger(__name__)

bp = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")
csrf.exempt(bp)  # Twilio cannot send a CSRF token; its signature is the check


def _require_twilio_signature() -> None:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        log.warning("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set")
        abort(403)
    if not verify_twilio_request(request, token, current_app.config.get("PUBLIC_BASE_URL")):
        log.warning("Twilio webhook refused: missing or wrong X-Twilio-Signature on %s", request.path)
        abort(403)


def _empty_twiml() -> Response:
    # Replies are queued in the outbox, never answered inline: every text is a row.
    return Response(str(MessagingResponse()), mimetype="text/xml")


@bp.post("/status")
@limiter.exempt
def status():
    _require_twilio_signature()
    try:
        apply_status_callback(db.session, request.form, request.args.get("message"))
        db.session.commit()
    except IntegrityError:
        # The same callback handled at the same moment by another process.
        db.session.rollback()
    return "", 204


@bp.post("/inbound")
@limiter.exempt
def inbound():
    _require_twilio_signature()
    try:
        receive_inbound(db.session, request.form)
        db.session.commit()
    except IntegrityError:
        # Twilio's retry of a message another process is storing right now.
        db.session.rollback()
    return _empty_twiml()
