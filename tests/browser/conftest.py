"""Browser tests: Debian's Chromium driven by Playwright against a live server.

Playwright never downloads a browser here: it is pointed at /usr/bin/chromium
(installed by `make test` through apt). Screenshots are kept under
test-artifacts/ for people to look at.

One Chromium serves all the browser tests of a process (`chromium`, and
`tests.reports.browser.run_in_chromium`): it starts with the first browser
test and stops when the tests that follow are not browser tests (marker
`browser`; `make test` runs them one after another on one worker, see
tests/conftest.py). Each test gets the browser without contexts of others.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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


class _SharedChromium:
    """The process's one Playwright and Chromium, in the thread that started them (the main one).

    While Playwright's sync API is alive it marks an asyncio loop as running in
    that thread, so it is stopped (`stop`) before tests that are not browser
    tests run."""

    def __init__(self) -> None:
        self.playwright = None
        self.browser = None

    def get(self):
        if self.browser is not None and self.browser.is_connected():
            return self.browser
        self.stop()
        if not Path(CHROMIUM).exists():
            pytest.fail("Debian's chromium is missing: run `make test` (it installs it with apt).")
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        except BaseException:
            self.stop()
            raise
        return self.browser

    def close_contexts(self) -> None:
        if self.browser is not None and self.browser.is_connected():
            for context in list(self.browser.contexts):
                context.close()

    def stop(self) -> None:
        browser, playwright, self.browser, self.playwright = self.browser, self.playwright, None, None
        try:
            if browser is not None and browser.is_connected():
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


shared_chromium = _SharedChromium()


def is_browser_test(item) -> bool:
    return item is not None and (item.get_closest_marker("browser") is not None
                                 or "chromium" in getattr(item, "fixturenames", ()))


@pytest.fixture
def chromium():
    """The shared Chromium (a Playwright `Browser`); contexts a test opens are closed after it."""
    yield shared_chromium.get()
    shared_chromium.close_contexts()


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
