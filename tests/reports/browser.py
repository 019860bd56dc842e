"""Chromium for the report and timeline browser tests, in a thread of its own.

tests/browser/conftest.py keeps one Playwright for the whole session, and
Playwright's sync API refuses a second one in the same thread; these tests
run in any order with those, so each scenario gets its own thread with its
own Playwright and Debian's Chromium (never a downloaded browser).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from crisis.core.db import db
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS


def run_in_chromium(scenario: Callable) -> None:
    """Run `scenario(browser)` in a fresh thread; its failure fails the test."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make test` (it installs it with apt).")
    outcome: dict = {}

    def run():
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                try:
                    scenario(browser)
                finally:
                    browser.close()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc
        finally:
            # log_in() reads the two-factor secret through this thread's database session:
            # end it, or its open transaction would block the tables being emptied.
            db.session.remove()

    thread = threading.Thread(target=run, name="chromium-scenario")
    thread.start()
    thread.join(timeout=180)
    if thread.is_alive():
        pytest.fail("the browser scenario did not finish in 3 minutes")
    if "error" in outcome:
        raise outcome["error"]
