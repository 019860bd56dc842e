"""Fixtures for push tests: VAPID keys on the test app, and a stand-in push service (tests/fake_push.py)."""

from __future__ import annotations

import pytest

from crisis.push.vapid import generate_keys
from tests.dispatch.conftest import create_world  # noqa: F401  (fixtures shared with dispatch tests)
from tests.fake_push import start_fake_push
from tests.messaging.conftest import (  # noqa: F401
    create_staff,
    no_pacing,
    recording_gateway,
    sender_settings,
)

VAPID_SUBJECT = "mailto:krisstod-test@example.se"


@pytest.fixture
def vapid(app, monkeypatch):
    """Push configured on the test app; pushes are sent inline right after the commit."""
    public, private = generate_keys()
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", private)
    monkeypatch.setitem(app.config, "VAPID_SUBJECT", VAPID_SUBJECT)
    monkeypatch.setitem(app.config, "PUSH_SEND_MODE", "inline")
    monkeypatch.setitem(app.config, "PUSH_SMS_FALLBACK_SECONDS", 60)
    return public


@pytest.fixture
def fake_push():
    service = start_fake_push()
    yield service
    service.server.shutdown()
    service.server.server_close()
