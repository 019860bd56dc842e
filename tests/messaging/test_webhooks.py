"""Twilio's status and inbound webhooks through the app: signed, forged, repeated, out of order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crisis.core.db import utcnow
from crisis.messaging.gateway import SendRequest
from crisis.messaging.models import Direction, Message, MessageStatus, MessageStatusEvent
from crisis.messaging.sender import (
    SenderSettings,
    claim_due_messages,
    get_gateway,
    run_sender_sweep,
)
from crisis.messaging.services import queue_sms
from crisis.timeline.models import TimelineEvent
from tests.messaging.conftest import INBOUND_PATH, PUBLIC, STATUS_PATH

NUMBER = "+46701740611"


@pytest.fixture
def sent_message(session, twilio_app, fake_twilio, sender_settings, no_pacing):
    """A text the app handed to (fake) Twilio, with its status callback URL."""
    message = queue_sms(session, to=NUMBER, body="Larm K-5: https://crisis.example.se/d/t", purpose="dispatch",
                        incident_id=None)
    session.commit()
    run_sender_sweep(session, get_gateway(twilio_app), sender_settings(callback=True), pacer=no_pacing)
    session.refresh(message)
    return message


def callback(fake_twilio, provider_id, status, error_code=None):
    """(path, params, query) of Twilio's status callback for `provider_id`."""
    url, params, _signature = fake_twilio.build_status_callback(provider_id, status, error_code)
    path_and_query = url.removeprefix(PUBLIC)
    path, _, query = path_and_query.partition("?")
    return path, params, "?" + query


def event_count(session, message_id) -> int:
    return session.scalar(select(func.count(MessageStatusEvent.id)).where(MessageStatusEvent.message_id == message_id))


def test_signed_status_callbacks_move_the_status_forward(session, sent_message, fake_twilio, signed_post):
    for status in ("sent", "delivered"):
        path, params, query = callback(fake_twilio, sent_message.provider_id, status)
        assert signed_post(path, params, query=query).status_code == 204

    session.expire_all()
    message = session.get(Message, sent_message.id)
    assert message.status == MessageStatus.DELIVERED
    assert message.sent_at is not None
    assert [(e.status.value, e.source) for e in message.status_events][-2:] == [
        ("sent", "callback"), ("delivered", "callback")]
    assert session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.delivered")) is not None


@pytest.mark.parametrize("forgery", ["missing", "wrong_token", "other_url", "tampered"])
def test_forged_status_callback_gets_403_and_changes_nothing(session, sent_message, fake_twilio, signed_post,
                                                             forgery):
    path, params, query = callback(fake_twilio, sent_message.provider_id, "delivered")
    before = event_count(session, sent_message.id)
    if forgery == "missing":
        response = signed_post(path, params, query=query, signature=False)
    elif forgery == "wrong_token":
        response = signed_post(path, params, query=query, token="0" * 32)
    elif forgery == "other_url":
        response = signed_post(path, params, query=query, signed_url=f"https://evil.example{path}{query}")
    else:
        signature = fake_twilio.sign(f"{PUBLIC}{path}{query}", params)
        response = signed_post(path, {**params, "MessageStatus": "failed"}, query=query, signature=signature)

    assert response.status_code == 403
    session.expire_all()
    message = session.get(Message, sent_message.id)
    assert message.status == MessageStatus.SENDING
    assert event_count(session, message.id) == before


def test_webhooks_refuse_everything_without_an_auth_token(session, sent_message, fake_twilio, signed_post,
                                                          twilio_app, monkeypatch):
    monkeypatch.setitem(twilio_app.config, "TWILIO_AUTH_TOKEN", None)
    path, params, query = callback(fake_twilio, sent_message.provider_id, "delivered")
    assert signed_post(path, params, query=query).status_code == 403


def test_repeated_callback_is_kept_once(session, sent_message, fake_twilio, signed_post):
    path, params, query = callback(fake_twilio, sent_message.provider_id, "delivered")
    signed_post(path, params, query=query)
    before = event_count(session, sent_message.id)
    assert signed_post(path, params, query=query).status_code == 204

    assert event_count(session, sent_message.id) == before
    assert session.scalar(select(func.count(TimelineEvent.id)).where(
        TimelineEvent.type == "message.delivered")) == 1


def test_callbacks_out_of_order_never_move_a_status_back(session, sent_message, fake_twilio, signed_post):
    for status in ("delivered", "sent", "queued"):
        path, params, query = callback(fake_twilio, sent_message.provider_id, status)
        signed_post(path, params, query=query)

    session.expire_all()
    message = session.get(Message, sent_message.id)
    assert message.status == MessageStatus.DELIVERED
    # Every report is still in the history, in the order it came.
    assert [e.status.value for e in message.status_events if e.source == "callback"] == ["delivered", "sent", "queued"]


def test_undelivered_callback_keeps_the_error_code(session, sent_message, fake_twilio, signed_post):
    path, params, query = callback(fake_twilio, sent_message.provider_id, "undelivered", error_code=30003)
    signed_post(path, params, query=query)

    session.expire_all()
    message = session.get(Message, sent_message.id)
    assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, "30003")
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.undelivered"))
    assert event.data["error_code"] == "30003"
    assert NUMBER not in event.summary and NUMBER not in str(event.data)


def test_callback_for_a_send_whose_process_died_adopts_it(session, twilio_app, fake_twilio, signed_post,
                                                          create_twilio_gateway):
    """The sender died after Twilio took the text: the callback names our row, and it is never resent."""
    message = queue_sms(session, to=NUMBER, body="Larm K-6", purpose="dispatch")
    session.commit()
    [claimed] = claim_due_messages(session, now=utcnow(), limit=1)
    result = create_twilio_gateway().send(SendRequest(
        to=NUMBER, body="Larm K-6", status_callback=f"{PUBLIC}{STATUS_PATH}?message={claimed.id}"))
    path, params, query = callback(fake_twilio, result.provider_id, "sent")
    assert signed_post(path, params, query=query).status_code == 204

    session.expire_all()
    message = session.get(Message, message.id)
    assert message.provider_id == result.provider_id
    assert message.status == MessageStatus.SENT
    report = run_sender_sweep(session, get_gateway(twilio_app), SenderSettings(rate_per_second=0),
                              now=utcnow() + timedelta(minutes=10))
    assert report.claimed == 0 and report.requeued == 0
    assert len(fake_twilio.messages) == 1


def test_callback_for_an_unknown_message_is_acknowledged_and_ignored(session, twilio_app, signed_post):
    params = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert signed_post(STATUS_PATH, params).status_code == 204
    assert session.scalar(select(func.count(MessageStatusEvent.id))) == 0


def test_signature_is_checked_against_the_public_url_behind_a_proxy(session, sent_message, fake_twilio, client):
    """The app sees http://localhost; Twilio signed https://crisis.example.se: PUBLIC_BASE_URL wins."""
    path, params, query = callback(fake_twilio, sent_message.provider_id, "delivered")
    signature = fake_twilio.sign(f"{PUBLIC}{path}{query}", params)
    response = client.post(path + query, data=params, base_url="http://localhost:8000",
                           headers={"X-Twilio-Signature": signature, "X-Forwarded-Proto": "http"})
    assert response.status_code == 204


def test_signed_inbound_sms_is_stored_encrypted_and_answered_with_empty_twiml(session, twilio_app, fake_twilio,
                                                                              signed_post):
    params, _ = fake_twilio.build_inbound(NUMBER, "Vi behöver prata om mamma", url=f"{PUBLIC}{INBOUND_PATH}")
    response = signed_post(INBOUND_PATH, params)

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert "<Response" in response.get_data(as_text=True) and "<Message" not in response.get_data(as_text=True)
    message = session.scalar(select(Message).where(Message.direction == Direction.INBOUND))
    assert message.status == MessageStatus.RECEIVED
    assert message.body == "Vi behöver prata om mamma"
    raw = session.connection().exec_driver_sql(f"SELECT body FROM messages WHERE id = {message.id}").scalar()
    assert "mamma" not in raw
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.received"))
    assert "mamma" not in event.summary and "mamma" not in str(event.data)


def test_forged_inbound_sms_gets_403_and_stores_nothing(session, twilio_app, fake_twilio, signed_post):
    params, _ = fake_twilio.build_inbound(NUMBER, "STOP", url=f"{PUBLIC}{INBOUND_PATH}")
    assert signed_post(INBOUND_PATH, params, token="f" * 32).status_code == 403
    assert signed_post(INBOUND_PATH, params, signature=False).status_code == 403
    assert session.scalar(select(func.count(Message.id))) == 0


def test_repeated_inbound_webhook_is_stored_once(session, twilio_app, fake_twilio, signed_post):
    params, _ = fake_twilio.build_inbound(NUMBER, "hej", url=f"{PUBLIC}{INBOUND_PATH}")
    signed_post(INBOUND_PATH, params)
    signed_post(INBOUND_PATH, params)
    assert session.scalar(select(func.count(Message.id))) == 1


def test_webhooks_need_no_csrf_token_but_pages_do(session, twilio_app, client):
    # Twilio cannot send a CSRF token: an unsigned POST is refused by the signature check, not CSRF.
    response = client.post(STATUS_PATH, data={"MessageSid": "SM1", "MessageStatus": "sent"})
    assert response.status_code == 403
    assert b"CSRF" not in response.data
