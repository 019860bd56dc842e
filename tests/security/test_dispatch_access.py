"""Finding 15 (issue 14): once one member acknowledges a dispatch, the others it alerted lose the access
it gave them, each recorded in the access log; access from elsewhere stays."""

from __future__ import annotations

from sqlalchemy import select

from crisis.core.db import db
from crisis.dispatch.services import acknowledge_dispatch, dispatch_team, escalate_dispatch
from crisis.incidents.access import assign, is_assigned
from crisis.timeline.models import AccessLog, TimelineEvent
from tests.dispatch.conftest import create_world  # noqa: F401
from tests.messaging.conftest import create_staff  # noqa: F401


def test_the_others_lose_access_when_one_acknowledges(app_ctx, session, create_world):  # noqa: F811
    world = create_world(3)
    first, second, third = world.members
    assign(session, third.id, world.incident.id)  # assigned by the coordinator beforehand
    session.commit()
    dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    assert escalate_dispatch(session, dispatch, reason="no_acknowledgement")  # the second is alerted too
    session.commit()
    assert is_assigned(session, first, world.incident.id) and is_assigned(session, second, world.incident.id)

    acknowledge_dispatch(session, dispatch, user=second, via="link")
    session.commit()
    db.session.remove()
    assert not is_assigned(db.session, first, world.incident.id)  # alerted, never went: withdrawn
    assert is_assigned(db.session, second, world.incident.id)  # took it
    assert is_assigned(db.session, third, world.incident.id)  # assigned otherwise: kept
    withdrawn = db.session.scalars(select(AccessLog).where(AccessLog.action == "access_withdrawn")).all()
    assert [(w.user_id, w.incident_id) for w in withdrawn] == [(first.id, world.incident.id)]
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.type == "dispatch.access_withdrawn"))
    assert event.data["user_ids"] == [first.id] and event.data["acknowledged_by"] == second.id


def test_access_from_another_open_dispatch_stays(app_ctx, session, create_world):  # noqa: F811
    world = create_world(2)
    first, second = world.members
    one = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    escalate_dispatch(session, one, reason="no_acknowledgement")
    session.commit()
    # A second dispatch on the same incident, still waiting for the first member.
    other = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
    session.commit()
    acknowledge_dispatch(session, one, user=second, via="link")
    session.commit()
    assert other.status.value == "pending"
    assert is_assigned(session, first, world.incident.id)


def test_the_withdrawal_reads_in_the_access_log(app, session, create_world, create_user, client):  # noqa: F811
    from tests.conftest import login

    with app.app_context():
        world = create_world(2)
        first, second = world.members
        dispatch = dispatch_team(session, incident=world.incident, team=world.team, actor=world.coordinator)
        session.commit()
        escalate_dispatch(session, dispatch, reason="no_acknowledgement")
        acknowledge_dispatch(session, dispatch, user=second, via="link")
        session.commit()
    manager = create_user("manager")
    login(client, manager.email)
    page = client.get("/access-log")
    assert page.status_code == 200 and "återkallad" in page.get_data(as_text=True)
