"""Finding 12 (issue 14): an inbound SMS from a number two relatives on different incidents share is filed
with the conversation of the latest outbound text to that number, or marked "ambiguous", never silently
under one of them."""

from __future__ import annotations

from sqlalchemy import select

from crisis.messaging.services import queue_sms, receive_inbound
from crisis.timeline.models import TimelineEvent

SHARED = "+46701740677"


def inbound(session, sid: str, body: str = "Kan ni ringa mig?"):
    result = receive_inbound(session, {"MessageSid": sid, "From": SHARED, "To": "+46700000000", "Body": body})
    session.commit()
    return result.message


def two_relatives(create_incident, create_relative):
    first = create_relative(create_incident(), consent="given", phone=SHARED)
    second = create_relative(create_incident(), consent="given", phone=SHARED)
    return first, second


def test_the_reply_goes_to_the_conversation_of_the_latest_text(app, session, create_incident, create_relative):
    first, second = two_relatives(create_incident, create_relative)
    with app.app_context():
        queue_sms(session, to=SHARED, body="Hej från Krisstöd", purpose="contact", incident_id=first.incident_id,
                  recipient_relative_id=first.id)
        session.commit()
        queue_sms(session, to=SHARED, body="Hej igen", purpose="contact", incident_id=second.incident_id,
                  recipient_relative_id=second.id)
        session.commit()
        message = inbound(session, "SM-shared-1")
        assert (message.recipient_relative_id, message.incident_id) == (second.id, second.incident_id)
        assert message.attribution == "latest_outbound"


def test_without_a_conversation_the_text_is_marked_ambiguous(app, session, create_incident, create_relative):
    first, second = two_relatives(create_incident, create_relative)
    with app.app_context():
        message = inbound(session, "SM-shared-2", body="STOP")  # even a keyword is shown to a coordinator
        assert message.recipient_relative_id is None and message.incident_id is None
        assert message.attribution == "ambiguous"
        event = session.scalar(select(TimelineEvent).where(TimelineEvent.subject_id == message.id,
                                                           TimelineEvent.type == "message.received"))
        assert event.data["attribution"] == "ambiguous"
        assert sorted(event.data["relative_ids"]) == sorted([first.id, second.id])


def test_a_number_of_one_relative_is_filed_as_before(app, session, create_incident, create_relative):
    only = create_relative(create_incident(), consent="given", phone=SHARED)
    with app.app_context():
        message = inbound(session, "SM-single")
        assert (message.recipient_relative_id, message.incident_id, message.attribution) == \
            (only.id, only.incident_id, None)


def test_the_coordinator_sees_the_mark(app, session, create_incident, create_relative, logged_in, client):
    two_relatives(create_incident, create_relative)
    with app.app_context():
        message = inbound(session, "SM-shared-3")
    logged_in("coordinator")
    page = client.get(f"/sms/{message.id}").get_data(as_text=True)
    assert "Oklar avsändare" in page
