"""Chromium for the report and timeline browser tests.

`run_in_chromium(scenario)` hands the process's one shared Chromium
(tests/browser/conftest.py) to `scenario`, in the test's own thread, and
closes what the scenario opened.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.browser.conftest import shared_chromium


def run_in_chromium(scenario: Callable) -> None:
    """Run `scenario(browser)` with the shared Chromium; its failure fails the test."""
    try:
        scenario(shared_chromium.get())
    finally:
        shared_chromium.close_contexts()
