"""Acknowledging an alert: by replying OK/JA/1, or by the link in it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.dispatch.services import ack_link, dispatch_staff, dispatch_team
from crisis.messaging.models import Direction, Message
from crisis.timeline.models import TimelineEvent
from tests.conftest import login
from tests.messaging.conftest import INBOUND_PATH


@pytest.fixture
def dispatched(app, session, create_world):
    """Factory: a team dispatch (made as the coordinator would, in the app)."""

    def factory(world=None):
        world = world or create_world(3, can_log_in=True)
        with app.app_context():
            dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
            session.commit()
            link = ack_link(dispatch)
        return world, dispatch, link

    return factory


@pytest.fixture
def reply(signed_post, twilio_app):
    """An SMS from `sender` to our number, through the signed inbound webhook."""

    def send(sender: str, body: str):
        params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC", "From": sender,
                  "To": "+46701740605", "Body": body}
        response = signed_post(INBOUND_PATH, params)
        assert response.status_code == 200
        return response

    return send


def answers(session) -> list[str]:
    return [m.body for m in session.scalars(
        select(Message).where(Message.direction == Direction.OUTBOUND, Message.purpose == "reply")
        .order_by(Message.id))]


def reload(session, dispatch) -> Dispatch:
    session.expire_all()
    return session.get(Dispatch, dispatch.id)


@pytest.mark.parametrize("body", ["OK", "ja", "1", "Ok!", "JA."])
def test_reply_acknowledges_the_alert(session, dispatched, reply, body):
    world, dispatch, _ = dispatched()
    reply(world.members[0].phone, body)

    dispatch = reload(session, dispatch)
    assert dispatch.status == DispatchStatus.ACKNOWLEDGED
    assert dispatch.acknowledged_by_id == world.members[0].id
    assert answers(session) == [f"Tack, larm {dispatch.reference} är bekräftat."]
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.acknowledged"))
    assert event.data["via"] == "sms" and event.incident_id == world.incident.id


def test_a_conditional_reply_is_not_an_acknowledgement(session, dispatched, reply):
    world, dispatch, _ = dispatched()
    reply(world.members[0].phone, "OK men jag kan inte förrän ikväll")

    assert reload(session, dispatch).status == DispatchStatus.PENDING
    assert session.scalar(select(TimelineEvent).where(TimelineEvent.type == "message.received")) is not None


def test_reply_from_a_number_nobody_has_acknowledges_nothing(session, dispatched, reply):
    _, dispatch, _ = dispatched()
    reply("+46701740698", "OK")

    assert reload(session, dispatch).status == DispatchStatus.PENDING
    assert answers(session) == []


def test_reply_with_a_reference_picks_that_alert(session, app, create_world, reply):
    world = create_world(2)
    with app.app_context():
        first = dispatch_staff(session, incident=world.incident, users=[world.members[0]], actor=world.coordinator)[0]
        second = dispatch_staff(session, incident=world.incident, users=[world.members[0]], actor=world.coordinator)[0]
        session.commit()

    reply(world.members[0].phone, f"ok {first.reference}")

    assert reload(session, first).status == DispatchStatus.ACKNOWLEDGED
    assert reload(session, second).status == DispatchStatus.PENDING


def test_a_bare_ok_with_several_open_alerts_asks_which(session, app, create_world, reply):
    world = create_world(2)
    with app.app_context():
        first = dispatch_staff(session, incident=world.incident, users=[world.members[0]], actor=world.coordinator)[0]
        second = dispatch_staff(session, incident=world.incident, users=[world.members[0]], actor=world.coordinator)[0]
        session.commit()

    reply(world.members[0].phone, "OK")

    assert reload(session, first).status == DispatchStatus.PENDING
    assert reload(session, second).status == DispatchStatus.PENDING
    [answer] = answers(session)
    assert first.reference in answer and second.reference in answer and "OK" in answer


def test_a_second_ok_is_told_it_was_already_acknowledged(session, dispatched, reply):
    world, dispatch, _ = dispatched()
    reply(world.members[0].phone, "OK")
    reply(world.members[0].phone, f"OK {dispatch.reference}")

    assert answers(session)[-1] == f"Larm {dispatch.reference} var redan bekräftat. Inget mer behövs."
    acknowledged = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "dispatch.acknowledged")).all()
    assert len(acknowledged) == 1


def test_the_link_needs_a_login_and_opening_it_acknowledges_nothing(session, client, dispatched):
    world, dispatch, link = dispatched()
    member = world.members[0]
    path = "/d/" + link.rsplit("/d/", 1)[1]

    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    login(client, member.email)
    opened = client.get(path)
    assert opened.status_code == 302
    page = client.get(opened.headers["Location"])
    assert page.status_code == 200
    assert "Bekräfta – jag tar det här" in page.get_data(as_text=True)
    assert reload(session, dispatch).status == DispatchStatus.PENDING  # a link preview acknowledges nothing


def test_the_acknowledge_button_behind_the_link(session, client, dispatched):
    from tests.conftest import csrf_token

    world, dispatch, link = dispatched()
    member = world.members[0]
    login(client, member.email)
    page_path = f"/dispatches/{dispatch.id}?via=link"
    token = csrf_token(client, page_path)

    response = client.post(f"/dispatches/{dispatch.id}/acknowledge", data={"csrf_token": token, "via": "link"})

    assert response.status_code == 302
    dispatch = reload(session, dispatch)
    assert dispatch.status == DispatchStatus.ACKNOWLEDGED and dispatch.acknowledged_by_id == member.id
    event = session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.acknowledged"))
    assert event.data["via"] == "link"


def test_acknowledging_without_the_csrf_token_is_refused(session, client, dispatched):
    world, dispatch, _ = dispatched()
    login(client, world.members[0].email)

    assert client.post(f"/dispatches/{dispatch.id}/acknowledge").status_code == 403
    assert reload(session, dispatch).status == DispatchStatus.PENDING


def test_a_wrong_token_and_a_stranger_get_404(session, client, dispatched, logged_in):
    _, dispatch, link = dispatched()
    logged_in("outreach")  # not in the team, not alerted, not assigned

    assert client.get("/d/" + "x" * 22).status_code == 404
    assert client.get("/d/" + link.rsplit("/d/", 1)[1]).status_code == 404
    assert client.get(f"/dispatches/{dispatch.id}").status_code == 404
