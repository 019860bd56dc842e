"""The auth blueprint and the redirect check that the login pages and the 2FA pages share.

Its own module so that crisis.auth.routes and crisis.auth.twofactor_routes both
build on it instead of on each other.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, url_for

bp = Blueprint("auth", __name__, template_folder="templates")


def safe_next(target: str | None) -> str:
    """Only local paths: an open redirect after login is a phishing tool."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target
