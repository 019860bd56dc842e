"""The SMS gateways: outbox, and the real twilio SDK against the local fake."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from crisis.messaging.gateway import (
    MESSAGE_STATUSES,
    OutboxGateway,
    PermanentSendError,
    SendRequest,
    SendResult,
    SmsGateway,
    TransientSendError,
    TwilioGateway,
    gateway_from_config,
    normalize_status,
)

RECIPIENT = "+46701740606"
CALLBACK = "https://crisis.example.se/webhooks/twilio/status"


def make_request(to: str = RECIPIENT, **overrides) -> SendRequest:
    values = {
        "to": to,
        "body": "Larm K-17: logga in på crisis.example.se/d/17",
        "status_callback": CALLBACK,
        "validity_period_s": 600,
        "idempotency_key": "message-1",
    }
    values.update(overrides)
    return SendRequest(**values)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- outbox ------------------------------------------------------------------


def test_outbox_gateway_marks_sent_with_outbox_id():
    result = OutboxGateway().send(make_request())

    assert result.status == "sent"
    assert re.fullmatch(r"OUTBOX-[0-9a-f]{32}", result.provider_id)
    assert result.error_code is None


def test_outbox_gateway_gives_each_message_its_own_id():
    gateway = OutboxGateway()
    assert gateway.send(make_request()).provider_id != gateway.send(make_request()).provider_id


def test_gateways_satisfy_the_protocol(create_twilio_gateway):
    assert isinstance(OutboxGateway(), SmsGateway)
    assert isinstance(create_twilio_gateway(), SmsGateway)


# -- configuration -----------------------------------------------------------


@pytest.mark.parametrize("config", [{}, {"SMS_BACKEND": ""}, {"SMS_BACKEND": " Outbox "}])
def test_config_defaults_to_outbox(config):
    assert isinstance(gateway_from_config(config), OutboxGateway)


def test_config_refuses_unknown_backend():
    with pytest.raises(ValueError, match="SMS_BACKEND"):
        gateway_from_config({"SMS_BACKEND": "carrier-pigeon"})


FULL_TWILIO = {
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM": "+46701740605",
}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        (("TWILIO_ACCOUNT_SID",), "TWILIO_ACCOUNT_SID"),
        (("TWILIO_AUTH_TOKEN",), "TWILIO_AUTH_TOKEN"),
        (("TWILIO_FROM",), "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID"),
    ],
)
def test_config_names_the_missing_twilio_variable(missing, named):
    config = {k: v for k, v in FULL_TWILIO.items() if k not in missing}
    with pytest.raises(ValueError, match=re.escape(named)):
        gateway_from_config(config)


def test_config_treats_empty_and_none_as_missing():
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        gateway_from_config({**FULL_TWILIO, "TWILIO_AUTH_TOKEN": None})
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID"):
        gateway_from_config({**FULL_TWILIO, "TWILIO_ACCOUNT_SID": ""})


def test_config_accepts_messaging_service_instead_of_from():
    config = {**FULL_TWILIO, "TWILIO_FROM": None, "TWILIO_MESSAGING_SERVICE_SID": "MG" + "2" * 32}
    gateway = gateway_from_config(config)
    assert isinstance(gateway, TwilioGateway)
    assert gateway.messaging_service_sid == "MG" + "2" * 32


def test_without_api_base_the_sdk_targets_api_twilio_com():
    gateway = gateway_from_config(FULL_TWILIO)
    assert gateway.client.api.base_url == "https://api.twilio.com"


def test_gateway_sets_an_http_timeout():
    gateway = gateway_from_config(FULL_TWILIO)
    assert gateway.client.http_client.timeout == pytest.approx(10.0)


# -- Twilio through the real SDK, against the fake -----------------------------


def test_send_returns_the_fakes_sid_and_queued(fake_twilio, create_twilio_gateway):
    result = create_twilio_gateway().send(make_request())

    [message] = fake_twilio.messages
    assert result == SendResult(provider_id=message.sid, status="queued")
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    assert message.to == RECIPIENT
    assert message.from_ == fake_twilio.phone_number
    assert message.body == "Larm K-17: logga in på crisis.example.se/d/17"


def test_api_base_override_sends_every_request_to_the_fake(fake_twilio, create_twilio_gateway):
    gateway = create_twilio_gateway()
    assert gateway.client.api.base_url == fake_twilio.base_url

    gateway.send(make_request())

    [request] = fake_twilio.api_requests
    assert (request.method, request.status) == ("POST", 201)
    assert request.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"


def test_api_base_override_survives_twilio_edge_and_region_env(
    fake_twilio, create_twilio_gateway, monkeypatch
):
    # The SDK rewrites hosts for an edge/region; that must not touch the fake's host.
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")

    result = create_twilio_gateway().send(make_request())

    assert fake_twilio.get(result.provider_id).to == RECIPIENT


def test_status_callback_and_validity_period_reach_twilio(fake_twilio, create_twilio_gateway):
    create_twilio_gateway().send(make_request(validity_period_s=900))

    [message] = fake_twilio.messages
    assert message.status_callback == CALLBACK
    assert message.validity_period == 900
    assert message.params["ValidityPeriod"] == "900"


def test_optional_fields_are_left_out_when_not_given(fake_twilio, create_twilio_gateway):
    create_twilio_gateway().send(make_request(status_callback=None, validity_period_s=None))

    [message] = fake_twilio.messages
    assert set(message.params) == {"To", "From", "Body"}


def test_messaging_service_mode_sends_service_sid_not_from(fake_twilio, create_twilio_gateway):
    result = create_twilio_gateway(messaging_service=True).send(make_request())

    [message] = fake_twilio.messages
    assert message.messaging_service_sid == fake_twilio.messaging_service_sid
    assert message.from_ is None
    assert "From" not in message.params
    # Twilio answers "accepted" for a Messaging Service; the row sees "queued".
    assert message.status == "accepted"
    assert result.status == "queued"


def test_invalid_number_is_permanent_with_twilio_code(fake_twilio, create_twilio_gateway):
    fake_twilio.fail_next(RECIPIENT, code=21211, status=400)

    with pytest.raises(PermanentSendError) as raised:
        create_twilio_gateway().send(make_request())

    assert raised.value.error_code == 21211
    assert raised.value.http_status == 400
    assert RECIPIENT in str(raised.value)
    assert fake_twilio.messages == []


def test_scripted_failure_only_hits_its_recipient_once(fake_twilio, create_twilio_gateway):
    gateway = create_twilio_gateway()
    fake_twilio.fail_next(RECIPIENT, code=21211)

    gateway.send(make_request(to="+46701740607"))
    with pytest.raises(PermanentSendError):
        gateway.send(make_request())
    gateway.send(make_request())

    assert [m.to for m in fake_twilio.messages] == ["+46701740607", RECIPIENT]


def test_unsubscribed_recipient_is_permanent_21610(fake_twilio, create_twilio_gateway):
    fake_twilio.opt_out(RECIPIENT)

    with pytest.raises(PermanentSendError) as raised:
        create_twilio_gateway().send(make_request())

    assert raised.value.error_code == 21610


def test_malformed_number_is_rejected_by_the_fake_like_twilio(create_twilio_gateway):
    with pytest.raises(PermanentSendError) as raised:
        create_twilio_gateway().send(make_request(to="0701740606"))
    assert raised.value.error_code == 21211


def test_rate_limit_is_transient_and_never_sent(fake_twilio, create_twilio_gateway):
    fake_twilio.rate_limit_next(1)
    gateway = create_twilio_gateway()

    with pytest.raises(TransientSendError) as raised:
        gateway.send(make_request())

    assert raised.value.error_code == 20429
    assert raised.value.http_status == 429
    assert raised.value.may_have_been_sent is False
    # The retry after backoff goes through.
    assert gateway.send(make_request()).status == "queued"


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_transient(fake_twilio, create_twilio_gateway, status):
    fake_twilio.server_error_next(1, status=status)

    with pytest.raises(TransientSendError) as raised:
        create_twilio_gateway().send(make_request())

    assert raised.value.http_status == status
    assert raised.value.may_have_been_sent is True


def test_connection_refused_is_transient_and_never_sent(fake_twilio):
    gateway = gateway_from_config(
        fake_twilio.gateway_config(TWILIO_API_BASE=f"http://127.0.0.1:{closed_port()}")
    )

    with pytest.raises(TransientSendError) as raised:
        gateway.send(make_request())

    assert raised.value.may_have_been_sent is False


def test_read_timeout_is_transient_and_may_have_been_sent(fake_twilio):
    fake_twilio.latency_s = 1.0
    gateway = TwilioGateway(
        fake_twilio.account_sid,
        fake_twilio.auth_token,
        from_number=fake_twilio.phone_number,
        api_base=fake_twilio.base_url,
        timeout_s=0.2,
    )

    with pytest.raises(TransientSendError) as raised:
        gateway.send(make_request())

    assert raised.value.may_have_been_sent is True


def test_wrong_credentials_are_permanent_20003(fake_twilio, create_twilio_gateway):
    gateway = create_twilio_gateway(TWILIO_AUTH_TOKEN="not-the-token")

    with pytest.raises(PermanentSendError) as raised:
        gateway.send(make_request())

    assert raised.value.error_code == 20003
    assert raised.value.http_status == 401
    assert "TWILIO_AUTH_TOKEN" in str(raised.value)
    assert fake_twilio.messages == []


def test_concurrent_sends_overlap_on_the_threaded_fake(fake_twilio):
    fake_twilio.latency_s = 0.3
    errors: list[BaseException] = []

    def send(i: int) -> None:
        # One gateway per worker, as each sender process/thread would have.
        gateway = gateway_from_config(fake_twilio.gateway_config())
        try:
            gateway.send(make_request(to=f"+4670174061{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert errors == []
    assert len(fake_twilio.messages) == 8
    assert elapsed < 8 * 0.3 * 0.75  # well below serial time


@pytest.mark.parametrize(
    ("provider", "ours"),
    [
        ("accepted", "queued"),
        ("scheduled", "queued"),
        ("queued", "queued"),
        ("sending", "sending"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("SENT", "sent"),
        ("something-new", "queued"),
        (None, "queued"),
    ],
)
def test_normalize_status(provider, ours):
    assert normalize_status(provider) == ours
    assert ours in MESSAGE_STATUSES


# -- looking up a send that stalled ----------------------------------------------------


def test_find_sent_matches_recipient_text_and_time(fake_twilio, create_twilio_gateway):
    from datetime import UTC, datetime, timedelta

    gateway = create_twilio_gateway()
    before = datetime.now(UTC)
    sent = gateway.send(make_request())
    gateway.send(make_request(body="Ett annat larm"))

    found = gateway.find_sent(RECIPIENT, make_request().body, before)
    assert found is not None and found.provider_id == sent.provider_id and found.status == "queued"
    assert gateway.find_sent(RECIPIENT, "Inget sådant larm", before) is None
    assert gateway.find_sent("+46701740607", make_request().body, before) is None
    # Sent well before the stalled attempt began: another text, not this one.
    assert gateway.find_sent(RECIPIENT, make_request().body, before + timedelta(hours=1)) is None


def test_find_sent_when_twilio_cannot_be_reached_is_a_send_error(fake_twilio):
    from datetime import UTC, datetime

    from crisis.messaging.gateway import SendError

    gateway = gateway_from_config(
        fake_twilio.gateway_config(TWILIO_API_BASE=f"http://127.0.0.1:{closed_port()}")
    )
    with pytest.raises(SendError):
        gateway.find_sent(RECIPIENT, "Larm", datetime.now(UTC))


def test_outbox_has_nothing_to_find():
    from datetime import UTC, datetime

    assert OutboxGateway().find_sent(RECIPIENT, "Larm", datetime.now(UTC)) is None


def test_copy_gives_another_http_session_with_the_same_settings(create_twilio_gateway):
    gateway = create_twilio_gateway()
    copy = gateway.copy()
    assert copy.client.http_client.session is not gateway.client.http_client.session
    assert (copy.api_base, copy.from_number, copy.sender_key) == (gateway.api_base, gateway.from_number,
                                                                  gateway.sender_key)
