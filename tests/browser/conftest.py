"""Browser tests: Debian's Chromium driven by Playwright against a live server.

Playwright never downloads a browser here: it is pointed at /usr/bin/chromium
(installed by `make test` through apt). Screenshots are kept under
test-artifacts/ for people to look at.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS  # noqa: F401  (kept importable from here)


class _Http10Handler(WSGIRequestHandler):
    # The connection ends with the request, as behind gunicorn: a closing WebSocket's last
    # frames are not read as a new request (tests/live/conftest.py).
    protocol_version = "HTTP/1.0"


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Http10Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


# `chromium` (one browser for the whole run) is in tests/conftest.py: Playwright's sync API
# allows one instance per thread, so every browser test shares it.


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, base: str, email: str, password: str = "correct horse battery") -> None:
    """The login form, and the two-factor code step when the user has it (tests.conftest.totp_code)."""
    from tests.conftest import totp_code

    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    if "/login/verify" in page.url:
        page.fill("#code", totp_code(email))
        with page.expect_navigation():
            page.click("button[type=submit].primary")
