"""The web app manifest, the root-scoped service worker and the device settings page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crisis.auth.permissions import login_required
from crisis.core.navigation import add_nav_item

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
    return render_template("pwa/device.html")


add_nav_item("pwa.device", _l("This device"), {"coordinator", "outreach", "manager", "admin"}, order=95)
