"""Opt-out keywords, START, and who may get an SMS at all (relatives: consent, protected identity)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crisis.messaging.keywords import OPT_OUT_WORDS
from crisis.messaging.models import Direction, Message, MessageStatus, SmsOptOut
from crisis.messaging.services import (
    SmsRefused,
    is_opted_out,
    queue_sms,
    queue_sms_to_relative,
    receive_inbound,
)
from crisis.timeline.models import TimelineEvent

NUMBER = "+46701740650"


def inbound(session, body: str, sender: str = NUMBER, sid: str | None = None):
    import uuid

    result = receive_inbound(session, {"MessageSid": sid or "SM" + uuid.uuid4().hex, "From": sender,
                                       "To": "+46701740605", "Body": body})
    session.commit()
    return result


def replies(session) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.direction == Direction.OUTBOUND,
                                                      Message.purpose == "reply")))


@pytest.mark.parametrize("keyword", sorted(OPT_OUT_WORDS))
def test_every_standard_opt_out_keyword_is_honoured_and_recorded(session, keyword):
    inbound(session, keyword.lower() + "!")

    assert is_opted_out(session, NUMBER)
    row = session.scalar(select(SmsOptOut))
    assert row.keyword == keyword
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "sms.opted_out"))
    assert keyword in event.summary
    assert NUMBER not in event.summary and NUMBER not in str(event.data)
    with pytest.raises(SmsRefused):
        queue_sms(session, to=NUMBER, body="Larm", purpose="dispatch")


def test_opt_out_withdraws_texts_still_waiting(session):
    waiting = queue_sms(session, to=NUMBER, body="Påminnelse", purpose="followup_reminder")
    session.commit()

    inbound(session, "STOP")

    session.refresh(waiting)
    assert (waiting.status, waiting.error_code) == (MessageStatus.FAILED, "opted_out")


def test_swedish_keyword_gets_our_confirmation_twilio_keyword_does_not(session):
    inbound(session, "STOP")
    assert replies(session) == []  # Twilio confirms its own keywords

    inbound(session, "stopp", sender="+46701740651")
    [confirmation] = replies(session)
    assert confirmation.to_number == "+46701740651"
    assert "START" in confirmation.body
    assert confirmation.status == MessageStatus.QUEUED  # the one text an opt-out still gets


def test_start_subscribes_again(session):
    inbound(session, "STOP")
    inbound(session, "START")

    assert not is_opted_out(session, NUMBER)
    assert session.scalar(select(TimelineEvent).where(TimelineEvent.type == "sms.opted_in")) is not None
    queue_sms(session, to=NUMBER, body="Larm", purpose="dispatch")


def test_start_without_an_opt_out_changes_nothing(session):
    inbound(session, "START")
    assert session.scalar(select(func.count(SmsOptOut.phone_digest))) == 0


def test_staff_stop_and_start_are_staff_events_rendered_by_name(app, session, create_staff):
    from crisis.eventtext.render import render

    user = create_staff(phone=NUMBER)
    inbound(session, "STOPP")
    inbound(session, "START")

    stop, start = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "staff")
                                  .order_by(TimelineEvent.id)).all()
    assert (stop.type, stop.data, stop.subject_id) == ("user.opted_out", {"user_id": user.id}, user.id)
    assert (start.type, start.data) == ("user.opted_in", {"user_id": user.id})
    assert user.name not in stop.summary  # the stored note holds no name; the reader's sentence does
    with app.app_context():
        assert render(stop, "sv", session).startswith(f"{user.name} svarade STOPP")
        assert render(start, "en", session).startswith(f"{user.name} replied START")


def test_help_in_swedish_is_answered(session):
    inbound(session, "hjälp")
    [answer] = replies(session)
    assert "OK" in answer.body and "STOPP" in answer.body


# -- relatives ---------------------------------------------------------------------------


@pytest.fixture
def relative_with(session, create_incident, create_relative, create_user):
    """A relative with a phone and the consent decision given (None: none recorded)."""
    from crisis.incidents.services import record_consent

    def factory(scope=None, *, protected_identity=False, phone=NUMBER):
        incident = create_incident()
        relative = create_relative(incident, phone=phone, protected_identity=protected_identity)
        session.expire_all()  # the factories leave plain strings where the enums go
        if scope is not None:
            record_consent(session, relative, actor=create_user("coordinator"), state="given", scope=scope)
            session.commit()
        return relative

    return factory


def test_relative_without_consent_gets_no_sms(session, relative_with):
    relative = relative_with(None)
    with pytest.raises(SmsRefused) as refused:
        queue_sms_to_relative(session, relative, body="Hej", purpose="followup")
    assert refused.value.reason == "no_consent"


def test_consent_to_contact_but_not_by_sms_gets_no_sms(session, relative_with):
    relative = relative_with(["contact"])
    with pytest.raises(SmsRefused) as refused:
        queue_sms_to_relative(session, relative, body="Hej", purpose="followup")
    assert refused.value.reason == "no_consent"


def test_protected_identity_never_gets_an_sms_even_with_consent(session, relative_with):
    relative = relative_with(["contact", "sms"], protected_identity=True)
    with pytest.raises(SmsRefused) as refused:
        queue_sms_to_relative(session, relative, body="Hej", purpose="followup")
    assert refused.value.reason == "protected_identity"
    assert session.scalar(select(func.count(Message.id))) == 0


def test_relative_with_sms_consent_gets_it_and_the_timeline_says_so_by_label(session, relative_with):
    relative = relative_with(["contact", "sms"])
    message = queue_sms_to_relative(session, relative, body="Hej, ring oss gärna.", purpose="followup")
    session.commit()

    assert message.recipient_relative_id == relative.id
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.queued"))
    assert event.incident_id == relative.incident_id
    assert relative.label in event.summary and NUMBER not in event.summary


def test_relative_who_opted_out_gets_no_more_and_the_incident_shows_it(app, session, relative_with):
    from crisis.eventtext.render import render

    relative = relative_with(["contact", "sms"])
    inbound(session, "AVSLUTA")

    with pytest.raises(SmsRefused) as refused:
        queue_sms_to_relative(session, relative, body="Hej", purpose="followup")
    assert refused.value.reason == "opted_out"
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "sms.opted_out"))
    assert event.incident_id == relative.incident_id
    assert event.summary == f"{relative.label} opted out of SMS (AVSLUTA)"
    assert relative.name is None or relative.name not in event.summary
    with app.app_context():
        assert render(event, "sv", session) == f"{relative.label} svarade AVSLUTA: inga fler sms förrän START"


def test_relatives_free_text_reply_is_kept_for_the_coordinator(session, relative_with):
    relative = relative_with(["contact", "sms"])
    result = inbound(session, "Kan ni ringa efter 17?")

    assert result.message.recipient_relative_id == relative.id
    assert result.message.incident_id == relative.incident_id
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.received"))
    assert event.summary == f"SMS received from {relative.label}"


def test_no_text_ever_goes_to_a_protected_identitys_number(session, relative_with):
    relative = relative_with(["contact", "sms"], protected_identity=True)

    # Not even the answer to a text they sent themselves.
    result = inbound(session, "HJÄLP", sender=relative.phone)
    assert result.reply is None
    with pytest.raises(SmsRefused) as refused:
        queue_sms(session, to=relative.phone, body="Hej", purpose="reply")
    assert refused.value.reason == "protected_identity"
    assert session.scalar(select(func.count(Message.id)).where(Message.direction == Direction.OUTBOUND)) == 0


def test_the_incident_page_shows_which_relative_replied_stop(client, session, relative_with, logged_in):
    relative = relative_with(["contact", "sms"])
    incident_id = relative.incident_id
    logged_in("coordinator")
    assert "Svarade STOPP: inga sms" not in client.get(f"/incidents/{incident_id}").get_data(as_text=True)

    inbound(session, "STOPP")

    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Svarade STOPP: inga sms" in page
    timeline = client.get(f"/incidents/{incident_id}/timeline").get_data(as_text=True)
    assert f"{relative.label} svarade STOPP: inga fler sms förrän START" in timeline
