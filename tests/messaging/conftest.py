"""Fixtures for messaging tests: a running fake Twilio, gateways aimed at it,
staff with phones, and signed webhook requests through the real app."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crisis.messaging.gateway import OutboxGateway, SendResult, TwilioGateway, gateway_from_config
from crisis.messaging.sender import Pacer, SenderSettings, set_gateway
from tests.fake_twilio import FakeTwilio

PUBLIC = "https://crisis.example.se"
STATUS_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"


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


@pytest.fixture
def create_staff(create_user, session) -> Callable:
    """Staff with a mobile number from the range PTS reserves for fiction (070-174 06 06 …)."""
    numbers = iter(f"+467017406{n:02d}" for n in range(6, 100))

    def factory(*roles: str, phone: str | None | bool = True, language: str = "sv",
                availability: str | None = None, can_log_in: bool = False, **kwargs):
        number = next(numbers) if phone is True else (phone or None)
        if not can_log_in:
            kwargs.setdefault("password", None)  # no argon2 hash: these only get SMS
        user = create_user(*(roles or ("outreach",)), phone=number, **kwargs)
        user.language = language
        if availability:
            from crisis.auth.models import Availability

            user.availability = Availability(availability)
        session.commit()
        return user

    return factory


@pytest.fixture
def sender_settings():
    """Unpaced settings with the twilio callback URL of the test app's public address."""

    def make(callback: bool = False, **overrides) -> SenderSettings:
        values = {"rate_per_second": 0, "workers": 4}
        if callback:
            values["status_callback_url"] = PUBLIC + STATUS_PATH
        values.update(overrides)
        return SenderSettings(**values)

    return make


@pytest.fixture
def no_pacing() -> Pacer:
    return Pacer(rate=0)


@pytest.fixture
def twilio_app(app, fake_twilio, monkeypatch):
    """The app set up as production would be with Twilio (aimed at the fake), behind PUBLIC."""
    monkeypatch.setitem(app.config, "SMS_BACKEND", "twilio")
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", fake_twilio.auth_token)
    monkeypatch.setitem(app.config, "TWILIO_ACCOUNT_SID", fake_twilio.account_sid)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    gateway = gateway_from_config(fake_twilio.gateway_config())
    set_gateway(app, gateway)
    yield app
    set_gateway(app, None)


@pytest.fixture
def signed_post(client, fake_twilio) -> Callable:
    """POST form `params` to `path` signed as Twilio signs it (or with a wrong token/URL)."""

    def post(path: str, params: dict, *, query: str = "", token: str | None = None,
             signed_url: str | None = None, signature: str | None = None, headers: dict | None = None):
        url = signed_url or f"{PUBLIC}{path}{query}"
        all_headers = dict(headers or {})
        if signature is not False:
            all_headers["X-Twilio-Signature"] = signature or fake_twilio.sign(url, params, token)
        return client.post(path + query, data=params, headers=all_headers)

    return post


class RecordingGateway(OutboxGateway):
    """The outbox gateway, counting what it was asked to send and able to fail on cue."""

    def __init__(self, failures=()):
        self.sent: list = []
        self.failures = list(failures)
        self.found: SendResult | None = None
        self.lookups: list = []

    def send(self, request):
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        self.sent.append(request)
        return super().send(request)

    def find_sent(self, to, body, since):
        self.lookups.append((to, body, since))
        return self.found


@pytest.fixture
def recording_gateway() -> Callable:
    return RecordingGateway
