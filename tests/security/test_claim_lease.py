"""Finding 14 (issue 14): after a sender crash, a claimed dispatch alert that never reached Twilio is sent
again after a short lease (30 s), not after five minutes; reminders keep the long lease."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisis.core.db import utcnow
from crisis.dispatch.models import Dispatch
from crisis.messaging.gateway import TwilioGateway
from crisis.messaging.models import MessageStatus
from crisis.messaging.sender import run_sender_sweep
from crisis.messaging.services import queue_sms
from tests.messaging.conftest import fake_twilio, no_pacing, sender_settings  # noqa: F401


class SimulatedCrash(BaseException):
    pass


class CrashBeforeSend(TwilioGateway):
    """The process dies after claiming, before the request leaves."""

    def send(self, request):
        raise SimulatedCrash


def gateway(fake, cls=TwilioGateway):
    return cls(fake.account_sid, fake.auth_token, fake.phone_number, api_base=fake.base_url)


@pytest.fixture
def alert_and_reminder(session, create_incident, create_user):
    worker = create_user("outreach", phone="+46701740611")
    incident = create_incident(assigned=[worker])
    dispatch = Dispatch(incident_id=incident.id, user_id=worker.id, ack_deadline_at=utcnow() + timedelta(minutes=10))
    session.add(dispatch)
    session.flush()
    alert = queue_sms(session, to="+46701740611", body="Larm: https://x.se/d/t", purpose="dispatch",
                      incident_id=incident.id, dispatch_id=dispatch.id, recipient_user_id=worker.id,
                      validity=timedelta(minutes=10))
    reminder = queue_sms(session, to="+46701740612", body="Påminnelse: uppföljning", purpose="followup_reminder",
                         validity=timedelta(hours=2))
    session.commit()
    return alert, reminder


def test_a_stuck_alert_goes_out_after_a_short_lease(session, fake_twilio, sender_settings, no_pacing,  # noqa: F811
                                                    alert_and_reminder):
    alert, reminder = alert_and_reminder
    start = utcnow()
    with pytest.raises(SimulatedCrash):
        run_sender_sweep(session, gateway(fake_twilio, CrashBeforeSend), sender_settings(workers=1),
                         pacer=no_pacing, now=start, clock=lambda: start)
    session.rollback()
    session.refresh(alert)
    session.refresh(reminder)
    assert alert.status == MessageStatus.SENDING and reminder.status == MessageStatus.SENDING  # both claimed

    # 40 seconds later a restarted sender settles the alert (the lease is 30 s); the reminder still waits.
    later = start + timedelta(seconds=40)
    run_sender_sweep(session, gateway(fake_twilio), sender_settings(), pacer=no_pacing, now=later,
                     clock=lambda: later)
    run_sender_sweep(session, gateway(fake_twilio), sender_settings(), pacer=no_pacing, now=later,
                     clock=lambda: later)
    session.refresh(alert)
    session.refresh(reminder)
    assert [m.to for m in fake_twilio.messages] == ["+46701740611"]
    assert alert.provider_id is not None  # accepted by Twilio
    assert reminder.status == MessageStatus.SENDING and reminder.provider_id is None


def test_reminders_keep_the_long_lease(sender_settings):  # noqa: F811
    settings = sender_settings()
    assert settings.dispatch_claim_after == timedelta(seconds=30)
    assert settings.stale_claim_after == timedelta(minutes=5)
