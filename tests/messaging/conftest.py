"""Fixtures for messaging tests: a running fake Twilio and gateways aimed at it."""

from __future__ import annotations

import pytest

from crisis.messaging.gateway import TwilioGateway, gateway_from_config
from crisis.testing import FakeTwilio


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def create_twilio_gateway(fake_twilio):
    """Factory: a TwilioGateway built from config pointing at the fake."""

    def create(messaging_service: bool = False, **overrides) -> TwilioGateway:
        gateway = gateway_from_config(
            fake_twilio.gateway_config(messaging_service=messaging_service, **overrides)
        )
        assert isinstance(gateway, TwilioGateway)
        return gateway

    return create
