"""The dispatch pages and the SMS outbox page, as a coordinator and as outreach staff."""

from __future__ import annotations

from sqlalchemy import func, select

from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.messaging.models import Message, MessageStatus
from tests.conftest import csrf_token, login


def coordinator_of(client, world):
    assert login(client, world.coordinator.email).status_code == 302
    return world.coordinator


def test_coordinator_dispatches_a_team_from_the_page(session, client, create_world):
    world = create_world(3, can_log_in=True)
    coordinator_of(client, world)

    choose = client.get("/dispatches/new").get_data(as_text=True)
    assert world.incident.reference in choose
    form_path = f"/dispatches/new?incident={world.incident.id}"
    form = client.get(form_path).get_data(as_text=True)
    assert world.team.name in form and world.members[0].name in form

    response = client.post(form_path, data={
        "csrf_token": csrf_token(client, form_path), "target": "team", "team_id": world.team.id,
        "purpose": "incident", "task_id": 0, "escalation_team_id": 0,
    })

    assert response.status_code == 302
    dispatch = session.scalar(select(Dispatch))
    assert response.headers["Location"] == f"/dispatches/{dispatch.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert dispatch.reference in page and "Väntar på bekräftelse" in page
    assert world.members[0].name in page  # staff names are fine on the page, never in the SMS
    [alert] = session.scalars(select(Message)).all()
    assert alert.recipient_user_id == world.members[0].id


def test_coordinator_dispatches_named_staff_each_their_own(session, client, create_world):
    world = create_world(3, can_log_in=True)
    coordinator_of(client, world)
    form_path = f"/dispatches/new?incident={world.incident.id}"

    response = client.post(form_path, data={
        "csrf_token": csrf_token(client, form_path), "target": "staff",
        "user_ids": [world.members[1].id, world.members[2].id], "escalation_team_id": world.team.id,
        "purpose": "incident", "team_id": 0, "task_id": 0,
    })

    assert response.status_code == 302 and response.headers["Location"] == "/dispatches"
    dispatches = session.scalars(select(Dispatch).order_by(Dispatch.id)).all()
    assert [(d.user_id, d.team_id) for d in dispatches] == [(world.members[1].id, world.team.id),
                                                            (world.members[2].id, world.team.id)]


def test_an_incomplete_form_says_what_is_missing(session, client, create_world):
    world = create_world(2, can_log_in=True)
    coordinator_of(client, world)
    form_path = f"/dispatches/new?incident={world.incident.id}"

    response = client.post(form_path, data={
        "csrf_token": csrf_token(client, form_path), "target": "team", "team_id": 0,
        "purpose": "visit", "task_id": 0, "escalation_team_id": 0,
    })

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Välj vilket team som ska larmas." in page and "Välj besökets uppgift." in page
    assert session.scalar(select(func.count(Dispatch.id))) == 0


def test_outreach_staff_cannot_dispatch_and_see_only_their_own_alerts(session, client, app, create_world):
    world = create_world(2, can_log_in=True)
    other = create_world(2)
    from crisis.dispatch.services import dispatch_team

    with app.app_context():
        mine = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        theirs = dispatch_team(session, incident=other.incident, team=other.team, actor=other.coordinator)
        session.commit()
    login(client, world.members[0].email)

    assert client.get("/dispatches/new").status_code == 403
    listing = client.get("/dispatches").get_data(as_text=True)
    assert mine.reference in listing and theirs.reference not in listing
    assert client.get(f"/dispatches/{theirs.id}").status_code == 404


def test_coordinator_cancels_and_waiting_alerts_are_withdrawn(session, client, app, create_world):
    world = create_world(2, can_log_in=True)
    from crisis.dispatch.services import dispatch_team

    with app.app_context():
        dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        session.commit()
    coordinator_of(client, world)
    path = f"/dispatches/{dispatch.id}"

    response = client.post(f"{path}/cancel", data={"csrf_token": csrf_token(client, path)})

    assert response.status_code == 302
    session.expire_all()
    assert session.get(Dispatch, dispatch.id).status == DispatchStatus.CANCELLED
    [alert] = session.scalars(select(Message)).all()
    assert (alert.status, alert.error_code) == (MessageStatus.FAILED, "cancelled")


def test_outbox_page_shows_texts_and_relatives_only_by_label(session, client, create_world, create_relative):
    from crisis.messaging.services import receive_inbound

    world = create_world(1, can_log_in=True)
    relative = create_relative(world.incident, phone="+46701740697")
    session.expire_all()
    receive_inbound(session, {"MessageSid": "SM" + "9" * 32, "From": "+46701740697", "Body": "Hej, ring mig"})
    session.commit()
    coordinator_of(client, world)

    page = client.get("/sms").get_data(as_text=True)

    assert "SMS-utkorg" in page and "inget lämnar den här datorn" in page
    assert "Hej, ring mig" in page and relative.label in page
    assert "+46701740697" not in page
    detail = client.get("/sms?direction=inbound").get_data(as_text=True)
    assert "Hej, ring mig" in detail
    message = session.scalar(select(Message))
    history = client.get(f"/sms/{message.id}").get_data(as_text=True)
    assert "Statushistorik" in history and "mottaget" in history


def test_outbox_page_is_for_coordinators_and_admins(session, client, logged_in):
    logged_in("outreach")
    assert client.get("/sms").status_code == 403


def test_navigation_offers_dispatches_to_staff_and_the_outbox_to_coordinators(session, client, create_world):
    world = create_world(1, can_log_in=True)
    coordinator_of(client, world)
    page = client.get("/dispatches").get_data(as_text=True)
    assert 'href="/dispatches"' in page and 'href="/sms"' in page


def test_the_incident_page_lists_its_dispatches(session, client, app, create_world):
    world = create_world(2, can_log_in=True)
    from crisis.dispatch.services import dispatch_team

    with app.app_context():
        dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        session.commit()
    coordinator_of(client, world)

    page = client.get(f"/incidents/{world.incident.id}").get_data(as_text=True)

    assert 'id="dispatches"' in page and dispatch.reference in page
    assert f'href="/dispatches/new?incident={world.incident.id}"' in page
