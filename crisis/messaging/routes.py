"""The "SMS-utkorg" page: every text in and out, with its status history.

With `SMS_BACKEND=outbox` (the default for `make run`) this page is where
the alerts go: nothing leaves the machine. With Twilio it shows what was
sent and what Twilio reported. Relatives appear by their label only
(docs/architecture.md "Sensitive data stays in the system").
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.core.db import db
from crisis.core.navigation import add_nav_item
from crisis.messaging.labels import purpose_label, status_label
from crisis.messaging.models import Direction, Message, MessageStatus
from crisis.messaging.services import readable_body

bp = Blueprint("messaging", __name__, template_folder="templates")

add_nav_item("messaging.outbox", _l("SMS outbox"), roles=[Role.COORDINATOR, Role.ADMIN], order=70)

PAGE_SIZE = 50


def counterpart(message: Message) -> str:
    """Who is at the other end, as a coordinator may see it."""
    if message.recipient_user is not None:
        return f"{message.recipient_user.name} ({message.counterpart_number or '–'})"
    if message.recipient_relative is not None:
        return message.recipient_relative.label
    return mask_number(message.counterpart_number)


def mask_number(number: str | None) -> str:
    if not number:
        return "–"
    return number[:3] + "•" * max(len(number) - 5, 0) + number[-2:]


def _context(**context):
    return dict(status_label=status_label, purpose_label=purpose_label, counterpart=counterpart,
                body_of=lambda message: readable_body(db.session, message, current_user),
                backend=current_app.config.get("SMS_BACKEND") or "outbox", **context)


@bp.get("/sms")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def outbox():
    query = select(Message).order_by(Message.id.desc())
    direction = request.args.get("direction")
    if direction in {d.value for d in Direction}:
        query = query.where(Message.direction == Direction(direction))
    status = request.args.get("status")
    if status in {s.value for s in MessageStatus}:
        query = query.where(Message.status == MessageStatus(status))
    before = request.args.get("before", type=int)
    if before:
        query = query.where(Message.id < before)
    rows = db.session.scalars(query.limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template("messaging/outbox.html", **_context(
        messages=rows, more=more, direction=direction, status=status,
        statuses=list(MessageStatus), next_before=rows[-1].id if more else None,
    ))


@bp.get("/sms/<int:message_id>")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def message(message_id: int):
    row = db.session.get(Message, message_id) or abort(404)
    return render_template("messaging/message.html", **_context(message=row))
