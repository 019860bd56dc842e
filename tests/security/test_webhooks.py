"""Forged Twilio webhooks are refused and change nothing; signed ones are accepted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from crisis.core.db import db
from crisis.messaging.models import Message, SmsOptOut

TOKEN = "twilio-auth-token-for-tests"
INBOUND = {"MessageSid": "SM" + "1" * 32, "From": "+46701740699", "To": "+46700000000", "Body": "STOPP"}
STATUS = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}


@pytest.fixture
def twilio_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", TOKEN)
    return TOKEN


def signature(app, path: str, params: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)


def rows() -> tuple[int, int]:
    db.session.remove()
    return (db.session.scalar(select(func.count()).select_from(Message)),
            db.session.scalar(select(func.count()).select_from(SmsOptOut)))


@pytest.mark.parametrize("path, params", [("/webhooks/twilio/inbound", INBOUND),
                                          ("/webhooks/twilio/status", STATUS)])
@pytest.mark.parametrize("forgery", ["missing", "wrong token", "other url", "changed body", "garbage"])
def test_forged_webhooks_are_refused(app, client, twilio_token, path, params, forgery):
    headers = {}
    body = dict(params)
    if forgery == "wrong token":
        headers["X-Twilio-Signature"] = signature(app, path, params, token="not-the-token")
    elif forgery == "other url":
        headers["X-Twilio-Signature"] = signature(app, path + "?x=1", params)
    elif forgery == "changed body":
        headers["X-Twilio-Signature"] = signature(app, path, params)
        body["Body" if "Body" in body else "MessageStatus"] = "START" if "Body" in body else "failed"
    elif forgery == "garbage":
        headers["X-Twilio-Signature"] = "' OR 1=1 --"
    before = rows()
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 403
    assert rows() == before


def test_webhooks_are_refused_when_no_auth_token_is_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", None)
    response = client.post("/webhooks/twilio/inbound", data=INBOUND,
                           headers={"X-Twilio-Signature": signature(app, "/webhooks/twilio/inbound", INBOUND)})
    assert response.status_code == 403


def test_a_signed_inbound_webhook_is_accepted(app, client, twilio_token):
    response = client.post("/webhooks/twilio/inbound", data=INBOUND,
                           headers={"X-Twilio-Signature": signature(app, "/webhooks/twilio/inbound", INBOUND)})
    assert response.status_code == 200
    assert rows()[1] == 1  # the STOP was honoured


def test_webhooks_need_no_csrf_token_but_are_not_open_to_get(app, client, twilio_token):
    assert client.get("/webhooks/twilio/inbound").status_code == 405
