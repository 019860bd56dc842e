"""The web app manifest, the root-scoped service worker and the device settings page."""

from __future__ import annotations

from functools import lru_cache

from flask import (
    Blueprint,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from crisis.auth.permissions import login_required
from crisis.core.db import db
from crisis.core.navigation import add_nav_item
from crisis.followups.forms import OUTCOMES as FOLLOW_UP_OUTCOMES
from crisis.followups.forms import STATUSES as FOLLOW_UP_STATUSES
from crisis.incidents.labels import TASK_STATUSES
from crisis.pwa import offline

bp = Blueprint("pwa", __name__, template_folder="templates")

#: The colour of the top bar; the phone's status bar takes it in standalone mode.
THEME_COLOUR = "#14324f"


@bp.get("/manifest.webmanifest")
def manifest():
    """Swedish name, start at "Mina uppgifter", standalone: what Chromium and Android need to install."""
    body = {
        "id": "/me/tasks",
        "name": _("Crisis support"),
        "short_name": _("Crisis support"),
        "description": _("Support to relatives after a shooting or lethal violence: tasks, alerts and follow-ups."),
        "lang": "sv",
        "start_url": "/me/tasks",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-maskable-192.png", "sizes": "192x192", "type": "image/png",
             "purpose": "maskable"},
            {"src": "/static/icons/icon-maskable-512.png", "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the root so that its scope is the whole site.

    `no-cache`: the browser asks for a new version on every navigation, so a fix reaches
    every phone at its next page load.
    """
    response = send_from_directory(current_app.static_folder, "js/sw.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/me/device")
@login_required
def device():
    """This phone: push alerts, a test notification, and the changes waiting to be sent."""
    return render_template("pwa/device.html", keeps_pages=offline.keeps_pages_for(current_user))


# -- offline reading and the queue of changes (issue 16, items 2 and 3; docs/phone.md) --------------


@bp.get("/me/offline")
@login_required
def offline_page():
    """What the phone shows for a page it has not kept, when there is no connection."""
    return render_template("pwa/offline.html")


@bp.get("/me/offline/pages")
@login_required
def offline_page_list():
    """The pages this user's phone may fetch ahead for reading offline ([] for every role but outreach),
    and a fresh CSRF token for sending the changes that waited on the phone."""
    return {"user_id": current_user.id, "pages": offline.offline_pages(db.session, current_user),
            "csrf_token": generate_csrf()}


@bp.after_app_request
def _offline_policy(response):
    """Mark the pages the phone may keep (`X-Offline-Cache: allow`); logout asks the browser to drop its cache."""
    if request.endpoint == "auth.logout":
        # The service worker empties its own caches too (sw-offline.js); never "storage", which would
        # also delete the changes still waiting on the phone.
        response.headers["Clear-Site-Data"] = '"cache"'
        return response
    if (request.method != "GET" or response.status_code != 200 or response.mimetype != "text/html"
            or not current_user.is_authenticated):
        return response
    if offline.page_may_be_kept(db.session, current_user, request.endpoint, request.view_args or {}):
        response.headers["X-Offline-Cache"] = "allow"
        response.headers["X-Offline-User"] = str(current_user.id)
    return response


@bp.app_template_global()
def offline_config() -> dict:
    """What static/js/offline.js needs, read from a JSON block (no inline script runs under the CSP)."""
    return {
        "user_id": current_user.id,
        "keeps_pages": offline.keeps_pages_for(current_user),
        "pages_url": url_for("pwa.offline_page_list"),
        "device_url": url_for("pwa.device"),
        **_offline_words(str(get_locale() or "sv")),
    }


@lru_cache(maxsize=8)
def _offline_words(language: str) -> dict:
    """The labels and texts of offline.js in `language` (the request's): the same on every page,
    so translated once per language, not on each of them (issue 15)."""
    return {
        "labels": {
            "task": {key: str(value) for key, value in TASK_STATUSES.items()},
            "followup": {key: str(value) for key, value in FOLLOW_UP_STATUSES.items()},
            "outcome": {key: str(value) for key, value in FOLLOW_UP_OUTCOMES.items()},
        },
        "text": {
            "fetched": _("Shown without a connection – fetched at {time}"),
            "no_connection": _("No connection. Changes are saved on this phone and sent when the connection "
                               "is back."),
            "saved": _("Saved on this phone. It is sent when the connection is back."),
            "waiting_here": _("A change made here is waiting on this phone to be sent."),
            "not_sent": _("Not sent: the connection was lost. Try again when it is back; this form cannot wait "
                          "on the phone."),
            "waiting_one": _("1 change waiting"),
            "waiting_many": _("{count} changes waiting"),
            "sending": _("Sending the changes made without a connection…"),
            "sent": _("The changes made without a connection have been sent."),
            "attention": _("{count} changes need your decision"),
            "session_ended": _("Your session has ended. Log in again: the changes stay on this phone until "
                               "they are sent."),
            "none": _("No changes are waiting."),
            "other_user": _("{count} changes made by someone else on this phone wait for them to log in."),
            "state_waiting": _("Waiting to be sent"),
            "state_conflict": _("Someone else changed this in the meantime"),
            "state_error": _("Not accepted"),
            "server_now": _("On the server now"),
            "yours": _("Your change"),
            "keep": _("Keep mine"),
            "drop": _("Drop mine"),
            "retry": _("Try again"),
            "made_at": _("made at {time}"),
            "status": _("Status"),
            "checklist": _("Checklist: {done} of {total} done"),
            "blocked_reason": _("What blocks it"),
            "note": _("Note"),
            "outcome": _("Outcome"),
            "acknowledge": _("Acknowledge the alert"),
            "blocked_needs_reason": _("Say briefly what blocks the task; the coordinator sees it."),
            "cached_pages": _("Kept on this phone for reading without a connection: {count} pages."),
            "logout_waiting": _("{count} changes have not been sent yet. Send them before you log out, or log "
                                "out anyway: they stay on this phone and are sent after you log in again."),
        },
    }


add_nav_item("pwa.device", _l("This device"), {"coordinator", "outreach", "manager", "admin"}, order=95)
