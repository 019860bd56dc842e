"""Push's part of other pages, as template helpers (so that neither messaging nor the device page's
module depends on push): the push figures on the SMS outbox page, and this person's devices on
the device page (crisis/pwa/templates/pwa/_push_settings.html)."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_login import current_user

from crisis.core.db import db
from crisis.push.services import push_figures, unavailable_reason, user_subscriptions

bp = Blueprint("push", __name__)


def push_device_state() -> dict:
    reason = unavailable_reason()
    devices = user_subscriptions(db.session, current_user.id) if current_user.is_authenticated else []
    return {"available": reason is None, "reason": reason,
            "public_key": current_app.config.get("VAPID_PUBLIC_KEY") if reason is None else None,
            "devices": devices}


@bp.app_context_processor
def _push_helpers():
    return {"push_figures": lambda: push_figures(db.session), "push_device_state": push_device_state}
