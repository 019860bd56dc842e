"""The sender with the real twilio SDK against the local fake of Twilio's REST API."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from crisis.core.db import utcnow
from crisis.messaging.gateway import TwilioGateway
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.sender import run_sender_sweep
from crisis.messaging.services import is_opted_out, queue_sms

ROOT = Path(__file__).resolve().parents[2]


class SimulatedCrash(BaseException):
    pass


class CrashAfterSend(TwilioGateway):
    """Twilio takes the message, then the process dies before recording its answer."""

    def send(self, request):
        super().send(request)
        raise SimulatedCrash


class CannotCopy(TwilioGateway):
    """A sending thread cannot get a gateway of its own (its HTTP client cannot be built)."""

    def copy(self):
        raise RuntimeError("no HTTP client for this thread")


def queue(session, to="+46701740611", validity=timedelta(minutes=10), body="Larm K-7: https://x.se/d/t"):
    message = queue_sms(session, to=to, body=body, purpose="dispatch", validity=validity)
    session.commit()
    return message


def test_sent_through_twilio_with_callback_and_validity(session, fake_twilio, create_twilio_gateway,
                                                        sender_settings, no_pacing):
    message = queue(session)

    report = run_sender_sweep(session, create_twilio_gateway(), sender_settings(callback=True), pacer=no_pacing)

    assert report.accepted == 1
    [sent] = fake_twilio.messages
    session.refresh(message)
    assert message.provider_id == sent.sid
    # Twilio has queued it; our row says it is on its way, the history keeps Twilio's word.
    assert message.status == MessageStatus.SENDING
    assert [(e.status.value, e.source) for e in message.status_events][-1] == ("queued", "twilio")
    assert (sent.to, sent.body) == ("+46701740611", "Larm K-7: https://x.se/d/t")
    assert 590 <= sent.validity_period <= 600
    callback = urlsplit(sent.status_callback)
    assert callback.path == "/webhooks/twilio/status"
    assert parse_qs(callback.query) == {"message": [str(message.id)]}


def test_invalid_number_fails_with_twilios_code(session, fake_twilio, create_twilio_gateway,
                                                sender_settings, no_pacing):
    message = queue(session)
    fake_twilio.fail_next("+46701740611", code=21211)

    report = run_sender_sweep(session, create_twilio_gateway(), sender_settings(), pacer=no_pacing)

    session.refresh(message)
    assert report.failed == 1
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "21211")
    assert fake_twilio.messages == []


def test_rate_limited_send_is_retried_and_sent_once(session, fake_twilio, create_twilio_gateway,
                                                    sender_settings, no_pacing):
    message = queue(session)
    fake_twilio.rate_limit_next(1)
    gateway = create_twilio_gateway()
    start = utcnow()

    first = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    session.refresh(message)
    assert first.retrying == 1
    assert (message.status, message.error_code) == (MessageStatus.QUEUED, "20429")

    second = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing,
                              now=start + timedelta(seconds=10))
    assert second.accepted == 1
    assert len(fake_twilio.messages) == 1
    assert [r.status for r in fake_twilio.api_requests if r.method == "POST"] == [429, 201]


def test_unsubscribed_recipient_fails_and_is_recorded_as_opted_out(session, fake_twilio, create_twilio_gateway,
                                                                   sender_settings, no_pacing):
    message = queue(session)
    fake_twilio.opt_out("+46701740611")

    run_sender_sweep(session, create_twilio_gateway(), sender_settings(), pacer=no_pacing)

    session.refresh(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "21610")
    assert is_opted_out(session, "+46701740611")


def test_server_error_is_looked_up_and_sent_once(session, fake_twilio, create_twilio_gateway,
                                                 sender_settings, no_pacing):
    message = queue(session)
    fake_twilio.server_error_next(1)
    gateway = create_twilio_gateway()
    start = utcnow()

    first = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    assert first.uncertain == 1
    later = run_sender_sweep(session, gateway, sender_settings(), pacer=no_pacing,
                             now=start + timedelta(seconds=31))

    # The 500 created nothing, so the lookup finds nothing and the text goes out once.
    assert (later.requeued, later.accepted) == (1, 1)
    assert len(fake_twilio.messages) == 1
    session.refresh(message)
    assert message.provider_id == fake_twilio.messages[0].sid


def test_timeout_after_twilio_took_it_is_not_sent_again(session, fake_twilio, sender_settings, no_pacing):
    message = queue(session)
    fake_twilio.latency_s = 0.5
    slow = TwilioGateway(fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.phone_number,
                         api_base=fake_twilio.base_url, timeout_s=0.2)
    start = utcnow()

    first = run_sender_sweep(session, slow, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    assert first.uncertain == 1
    fake_twilio.latency_s = 0
    import time
    time.sleep(0.6)  # the fake finishes creating the message after our timeout
    later = run_sender_sweep(session, slow, sender_settings(), pacer=no_pacing, now=start + timedelta(seconds=31))

    assert later.recovered == 1 and later.accepted == 0
    [only] = fake_twilio.messages
    session.refresh(message)
    assert message.provider_id == only.sid


def test_crash_after_twilio_took_it_is_recovered_from_twilio(session, fake_twilio, sender_settings, no_pacing):
    message = queue(session)
    crashing = CrashAfterSend(fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.phone_number,
                              api_base=fake_twilio.base_url)
    start = utcnow()

    with pytest.raises(SimulatedCrash):
        run_sender_sweep(session, crashing, sender_settings(), pacer=no_pacing, now=start, clock=lambda: start)
    session.rollback()

    restarted = TwilioGateway(fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.phone_number,
                              api_base=fake_twilio.base_url)
    report = run_sender_sweep(session, restarted, sender_settings(), pacer=no_pacing,
                              now=start + timedelta(minutes=6))

    assert (report.recovered, report.accepted) == (1, 0)
    [only] = fake_twilio.messages
    session.refresh(message)
    assert message.provider_id == only.sid
    assert [(e.status.value, e.source) for e in message.status_events][-1] == ("queued", "reconcile")


def test_a_large_batch_is_sent_concurrently_each_once(session, fake_twilio, create_twilio_gateway,
                                                      sender_settings, no_pacing):
    numbers = [f"+467017406{n:02d}" for n in range(10, 40)]
    for number in numbers:
        queue_sms(session, to=number, body="Larm K-9", purpose="dispatch")
    session.commit()
    fake_twilio.latency_s = 0.05

    report = run_sender_sweep(session, create_twilio_gateway(), sender_settings(workers=8), pacer=no_pacing)

    assert report.accepted == 30
    assert sorted(m.to for m in fake_twilio.messages) == numbers
    rows = session.scalars(select(Message)).all()
    assert all(m.provider_id and m.status == MessageStatus.SENDING for m in rows)


def test_messaging_service_sends_are_accepted(session, fake_twilio, create_twilio_gateway, sender_settings,
                                              no_pacing):
    message = queue(session)

    run_sender_sweep(session, create_twilio_gateway(messaging_service=True), sender_settings(), pacer=no_pacing)

    [sent] = fake_twilio.messages
    assert sent.messaging_service_sid == fake_twilio.messaging_service_sid
    session.refresh(message)
    assert message.provider_id == sent.sid


@pytest.mark.parametrize("dies", ["before_send", "after_send"])
def test_killed_sender_process_sends_nothing_twice(session, database_url, fake_twilio, create_twilio_gateway,
                                                   sender_settings, no_pacing, dies):
    """A real process, killed (os._exit) between claim and send, or between send and record."""
    message = queue(session)
    environ = {**os.environ, "DATABASE_URL": database_url, "FAKE_TWILIO_BASE": fake_twilio.base_url,
               "FAKE_TWILIO_SID": fake_twilio.account_sid, "FAKE_TWILIO_TOKEN": fake_twilio.auth_token,
               "FAKE_TWILIO_FROM": fake_twilio.phone_number, "DIE": dies}
    environ.pop("CRISIS_ENV", None)
    done = subprocess.run([sys.executable, "-m", "tests.messaging.crashing_sender"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert len(fake_twilio.messages) == (1 if dies == "after_send" else 0)

    session.expire_all()
    report = run_sender_sweep(session, create_twilio_gateway(), sender_settings(), pacer=no_pacing,
                              now=utcnow() + timedelta(minutes=6))

    assert len(fake_twilio.messages) == 1
    assert (report.recovered, report.requeued) == ((1, 0) if dies == "after_send" else (0, 1))
    session.refresh(message)
    assert message.provider_id == fake_twilio.messages[0].sid


def test_a_sending_thread_that_breaks_stops_the_sweep_instead_of_hanging_it(session, fake_twilio, sender_settings,
                                                                          no_pacing):
    ids = [queue(session, to=f"+4670174061{n}").id for n in range(5)]
    gateway = CannotCopy(fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.phone_number,
                         api_base=fake_twilio.base_url)
    raised: list[BaseException] = []

    def sweep() -> None:  # on a thread of its own, so that a hang fails the test instead of stopping the run
        try:
            run_sender_sweep(session, gateway, sender_settings(workers=3), pacer=no_pacing)
        except RuntimeError as exc:
            raised.append(exc)
        finally:
            session.remove()

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    thread.join(timeout=20)

    assert not thread.is_alive(), "the sweep waits for answers that will never come"
    assert [str(e) for e in raised] == ["no HTTP client for this thread"]
    assert fake_twilio.messages == []
    session.expire_all()  # the rows as the sweep's own session left them
    rows = session.scalars(select(Message).where(Message.id.in_(ids))).all()
    assert len(rows) == 5
    # Claimed and never sent: settled at the provider after the lease, like any other stalled send.
    assert all(m.status == MessageStatus.SENDING and m.claim_token and m.provider_id is None for m in rows)
