"""Security headers on every response, set in one after_request hook (as Indico does)."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

DATABASE_ID_MAX = 2**31 - 1  # ids are 32-bit integers on PostgreSQL

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_security_headers(app: Flask) -> None:
    production = app.config.get("CRISIS_ENV") == "production"

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Pages carry personal data: no shared or browser cache keeps them.
        if not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        return response


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number beyond the database's 32-bit ids names no row.

    Without the bound, /incidents/99999999999999999999 reaches the driver and
    fails there (a 500 on both engines); with it the answer is a plain 404
    (raised here rather than failing the match, which would make werkzeug
    answer 405 for other methods of the same path).
    """

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > DATABASE_ID_MAX:
            raise NotFound()
        return number


#: The request header the service worker sends when it fetches a page ahead of time, for reading
#: offline (crisis.pwa.offline): a copy made in the background, not a page the user opened.
PREFETCH_HEADER = "X-Offline-Prefetch"


def is_background_copy() -> bool:
    """Whether this request is the service worker fetching a page ahead of time (`PREFETCH_HEADER`).

    Such a page shows no flashed message (it would take the message from the page the user is
    opening at the same moment: "Klart: ..." after marking a task done went missing so) and
    writes no session cookie back.
    """
    return has_request_context() and request.headers.get(PREFETCH_HEADER) == "1"


class QuietSessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, which some endpoints never write back.

    With `SESSION_REFRESH_EACH_REQUEST` every response re-sends the session cookie as its
    request read it. A page loads its style sheet, scripts and icons, and the service worker
    fetches itself, while the page's own request may be changing the session (a login step
    adds its CSRF token): if one of those answers lands last, the browser keeps the older
    cookie and the next form is refused ("The CSRF session token is missing"). Endpoints that
    serve files (`quiet_endpoints`) therefore leave the cookie alone.
    """

    def __init__(self, quiet_endpoints: frozenset[str]):
        self.quiet_endpoints = quiet_endpoints

    def should_set_cookie(self, app: Flask, session) -> bool:
        if request.endpoint in self.quiet_endpoints or is_background_copy():
            return False
        return super().should_set_cookie(app, session)
