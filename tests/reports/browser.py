"""Chromium for the report and timeline browser tests: the run's one shared browser.

Playwright's sync API allows one instance per thread, so every browser test
uses the same Debian Chromium (tests/conftest.py `shared_chromium`), each in
contexts of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import shared_chromium


def run_in_chromium(scenario: Callable) -> None:
    """Run `scenario(browser)` with the shared browser; its failure fails the test."""
    scenario(shared_chromium())
