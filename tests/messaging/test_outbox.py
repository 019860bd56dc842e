"""The transactional outbox and its sender: claimed once, retried with backoff, never sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crisis.core.crypto import keyring
from crisis.core.db import utcnow
from crisis.messaging.gateway import PermanentSendError, SendResult, TransientSendError
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.sender import (
    Pacer,
    claim_due_messages,
    run_sender_sweep,
    send_request_for,
)
from crisis.messaging.services import SmsRefused, queue_sms, queue_sms_many, set_opt_out

NUMBER = "+46701740611"


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so nothing in the sender catches it."""


def queue(session, body="Larm K-1: logga in https://crisis.example.se/d/x", **kwargs):
    values = {"to": NUMBER, "body": body, "purpose": "dispatch", "validity": timedelta(minutes=10)}
    values.update(kwargs)
    message = queue_sms(session, **values)
    session.commit()
    return message


def history(message) -> list[tuple[str, str]]:
    return [(e.status.value, e.source) for e in message.status_events]


def test_queued_row_is_written_in_the_callers_transaction(session):
    message = queue(session)

    assert message.status == MessageStatus.QUEUED
    assert message.expires_at - message.created_at == timedelta(minutes=10)
    assert history(message) == [("queued", "outbox")]


def test_a_rolled_back_change_leaves_no_text_behind(session):
    queue_sms(session, to=NUMBER, body="Larm K-2", purpose="dispatch")
    session.rollback()

    assert session.scalar(select(func.count(Message.id))) == 0


def test_the_number_and_the_text_are_encrypted_at_rest(session):
    message = queue(session, body="Larm K-3: https://crisis.example.se/d/secret-token")

    raw = session.connection().exec_driver_sql(
        f"SELECT to_number, body FROM messages WHERE id = {message.id}").one()
    assert NUMBER not in raw[0] and "secret-token" not in raw[1]


def test_texts_queued_together_come_back_as_written_without_decrypting_them(session, monkeypatch):
    decrypted: list[str] = []
    decrypt = keyring.decrypt
    monkeypatch.setattr(keyring, "decrypt", lambda token: decrypted.append(token) or decrypt(token))

    made = queue_sms_many(session, [
        dict(to=f"+4670174062{n}", body=f"Larm K-{n}: https://crisis.example.se/d/t{n}", purpose="dispatch",
             idempotency_key=f"together:{n}")
        for n in range(3)
    ], objects=True)
    session.commit()

    assert [(m.to_number, m.from_number, m.body) for m in made] == [
        (f"+4670174062{n}", None, f"Larm K-{n}: https://crisis.example.se/d/t{n}") for n in range(3)]
    assert all(m.status == MessageStatus.QUEUED and m.id for m in made)
    assert decrypted == []  # what was just written is known: not decrypted again
    raw = session.connection().exec_driver_sql(f"SELECT to_number, body FROM messages WHERE id = {made[0].id}").one()
    assert "+46701740620" not in raw[0] and "https://crisis" not in raw[1]
    session.expire_all()
    assert session.get(Message, made[2].id).body == "Larm K-2: https://crisis.example.se/d/t2"


def test_sweep_sends_each_due_text_once(session, recording_gateway, sender_settings, no_pacing):
    message = queue(session)
    gateway = recording_gateway()

    first = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing)
    second = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing)

    assert (first.accepted, second.claimed) == (1, 0)
    assert len(gateway.sent) == 1
    session.refresh(message)
    assert message.status == MessageStatus.SENT
    assert message.provider_id.startswith("OUTBOX-")
    assert history(message) == [("queued", "outbox"), ("sending", "sender"), ("sent", "outbox")]


def test_a_claim_is_exclusive(session):
    queue(session)
    now = utcnow()

    first = claim_due_messages(session, now=now, limit=10)
    second = claim_due_messages(session, now=now, limit=10)

    assert len(first) == 1 and second == []
    assert first[0].status == MessageStatus.SENDING and first[0].attempts == 1


def test_opted_out_number_is_refused(session):
    set_opt_out(session, NUMBER, opted_out=True, keyword="STOP")
    session.commit()

    with pytest.raises(SmsRefused) as refused:
        queue(session)
    assert refused.value.reason == "opted_out"


def test_a_text_past_its_validity_is_never_sent(session, recording_gateway, sender_settings, no_pacing):
    message = queue(session, validity=timedelta(minutes=1))
    gateway = recording_gateway()

    report = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing,
                              now=utcnow() + timedelta(minutes=2))

    assert report.expired == 1 and gateway.sent == []
    session.refresh(message)
    assert message.status == MessageStatus.EXPIRED


def test_the_provider_gets_only_the_validity_that_is_left(session, sender_settings):
    message = queue(session, validity=timedelta(minutes=10))

    request = send_request_for(message, sender_settings(), message.created_at + timedelta(minutes=4))
    assert request.validity_period_s == 360
    # Twilio wants more than a few seconds; with less left the text is dropped here.
    assert send_request_for(message, sender_settings(), message.expires_at - timedelta(seconds=3)) is None


def test_transient_failure_is_retried_after_a_backoff(session, recording_gateway, sender_settings, no_pacing):
    message = queue(session)
    gateway = recording_gateway([TransientSendError("rate limited", 20429, 429)])
    start = utcnow()

    report = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    session.refresh(message)
    assert report.retrying == 1 and message.status == MessageStatus.QUEUED
    delay = message.next_attempt_at - start
    assert timedelta(seconds=4) <= delay <= timedelta(seconds=6)

    early = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start + timedelta(seconds=2))
    assert early.claimed == 0
    later = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start + timedelta(seconds=7))
    assert later.accepted == 1
    session.refresh(message)
    assert message.status == MessageStatus.SENT and message.attempts == 2
    assert [s for s, _ in history(message)] == ["queued", "sending", "queued", "sending", "sent"]


def test_backoff_doubles_until_attempts_run_out(session, recording_gateway, sender_settings, no_pacing):
    message = queue(session, validity=timedelta(hours=2))
    gateway = recording_gateway([TransientSendError("down")] * 10)
    now = utcnow()
    delays = []
    for _ in range(3):
        run_sender_sweep(session, gateway, sender_settings(max_attempts=3), pacer=no_pacing, now=now,
                         clock=lambda moment=now: moment)
        session.refresh(message)
        if message.status == MessageStatus.QUEUED:
            delays.append((message.next_attempt_at - now).total_seconds())
            now = message.next_attempt_at
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12
    assert message.status == MessageStatus.FAILED and message.attempts == 3
    assert gateway.sent == []


def test_permanent_failure_is_not_retried(session, recording_gateway, sender_settings, no_pacing):
    message = queue(session)
    gateway = recording_gateway([PermanentSendError(21211, "not a valid phone number", 400)])

    report = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing)
    run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=utcnow() + timedelta(minutes=1))

    session.refresh(message)
    assert report.failed == 1
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "21211")
    assert gateway.sent == []


def test_crash_between_claim_and_send_sends_once_after_the_lease(
        session, recording_gateway, sender_settings, no_pacing):
    message = queue(session)
    crashing = recording_gateway([SimulatedCrash()])
    start = utcnow()

    with pytest.raises(SimulatedCrash):
        run_sender_sweep(session, crashing, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    session.rollback()
    session.refresh(message)
    assert message.status == MessageStatus.SENDING and message.claim_token is not None

    restarted = recording_gateway()
    # Within the lease the claim might still be alive somewhere: hands off.
    soon = run_sender_sweep(session, restarted, sender_settings(), pacer=no_pacing, now=start + timedelta(minutes=1))
    assert soon.claimed == 0 and restarted.sent == [] and restarted.lookups == []

    after = run_sender_sweep(session, restarted, sender_settings(), pacer=no_pacing,
                             now=start + timedelta(minutes=6))
    assert after.requeued == 1 and after.accepted == 1
    assert len(restarted.lookups) == 1  # asked the provider first
    assert len(restarted.sent) == 1
    session.refresh(message)
    assert message.status == MessageStatus.SENT and message.attempts == 2


def test_stalled_send_the_provider_has_is_adopted_not_resent(
        session, recording_gateway, sender_settings, no_pacing):
    message = queue(session)
    start = utcnow()
    with pytest.raises(SimulatedCrash):
        run_sender_sweep(session, recording_gateway([SimulatedCrash()]), sender_settings(),
                         pacer=no_pacing, now=start, clock=lambda: start)
    session.rollback()
    restarted = recording_gateway()
    restarted.found = SendResult(provider_id="SM" + "a" * 32, status="sent")

    report = run_sender_sweep(session, restarted, sender_settings(), pacer=no_pacing,
                              now=start + timedelta(minutes=6))

    assert report.recovered == 1 and restarted.sent == []
    session.refresh(message)
    assert message.provider_id == "SM" + "a" * 32
    assert message.status == MessageStatus.SENT


def test_an_answer_that_may_have_been_sent_is_looked_up_before_a_resend(
        session, recording_gateway, sender_settings, no_pacing):
    message = queue(session)
    gateway = recording_gateway([TransientSendError("read timeout", may_have_been_sent=True)])
    start = utcnow()

    report = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    session.refresh(message)
    assert report.uncertain == 1
    assert message.status == MessageStatus.SENDING and message.claim_token is None

    run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start + timedelta(seconds=10))
    assert gateway.lookups == [] and gateway.sent == []  # still settling

    run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start + timedelta(seconds=31))
    assert len(gateway.lookups) == 1 and len(gateway.sent) == 1


def test_pacer_spaces_requests_per_sender():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(rate=2, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [pacer.acquire("+46701740605") for _ in range(5)]

    assert waits[:2] == [0.0, 0.0]  # the burst
    assert sum(waits) == pytest.approx(1.5)  # then one every half second
    assert pacer.acquire("MG-other-sender") == 0.0  # each sender has its own budget


def test_pacer_holds_a_sender_after_a_rate_limit():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    pacer = Pacer(rate=100, burst=100, clock=lambda: now[0], sleep=sleep)
    pacer.hold("+46701740605", 1.0)
    assert pacer.acquire("+46701740605") == pytest.approx(1.0)
