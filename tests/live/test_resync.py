"""Catching up after a reconnect: the API returns exactly what the sockets would have delivered."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crisis.auth.models import Availability
from crisis.auth.services import set_availability
from crisis.core.db import db
from crisis.timeline.services import record_event
from tests.live.conftest import bearer
from tests.live.follower import Follower


def event_on(session, incident, summary="Changed"):
    event = record_event(session, kind="incident", type="incident.updated", incident_id=incident.id,
                         summary=summary)
    session.commit()
    return event


def test_catching_up_returns_what_the_socket_delivers(live_server, local_client, create_user, create_incident,
                                                      token_for, session):
    # Outreach staff: their assigned incidents and those they coordinate; nothing else.
    worker, coordinator = create_user("outreach"), create_user("coordinator")
    assigned, coordinated, other = (create_incident(assigned=[worker]), create_incident(coordinator=worker),
                                    create_incident())
    token = token_for(worker)
    client = local_client()
    assert client.connect(live_server, headers=bearer(token))
    watcher = local_client()
    assert watcher.connect(live_server, headers=bearer(token_for(coordinator)))
    assert watcher.join("dashboard")["ok"]

    made = [event_on(session, assigned), event_on(session, other), event_on(session, coordinated)]
    set_availability(session, coordinator, Availability.BUSY)
    session.commit()
    last = event_on(session, other, "Last")
    watcher.event(last.id)  # everything has been published

    follower = Follower(live_server, bearer(token))
    follower.catch_up()
    assert sorted(e["id"] for e in client.events) == sorted(follower.handled) == [made[0].id, made[2].id]


def test_late_commit_of_a_smaller_id_is_caught_up(live_server, local_client, create_user, create_incident,
                                                  token_for, session):
    """PostgreSQL hands out ids at flush, but transactions commit in any order: a client that
    saw id n+1 and then dropped must still get n when it commits later (RESYNC_OVERLAP)."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite lets one transaction write at a time: ids commit in order there")
    coordinator = create_user("coordinator")
    incident = create_incident()
    token = token_for(coordinator)
    follower = Follower(live_server, bearer(token))
    client = local_client()
    client.on_event = follower.handle
    assert client.connect(live_server, headers=bearer(token)) and client.join("dashboard")["ok"]

    slow = Session(db.engine, expire_on_commit=False)
    try:
        late = record_event(slow, kind="incident", type="incident.updated", incident_id=incident.id,
                            summary="Slow transaction")  # id n, not committed yet
        quick = event_on(session, incident, "Quick transaction")  # id n+1, committed first
        assert late.id < quick.id
        client.event(quick.id)
        client.close()  # the client drops while the slow transaction is still open
        slow.commit()  # published to nobody: the client is away
    finally:
        slow.close()

    assert follower.resume_after < late.id  # not resumed from the newest id seen (quick.id)
    reconnected = local_client()
    reconnected.on_event = follower.handle
    assert reconnected.connect(live_server, headers=bearer(token)) and reconnected.join("dashboard")["ok"]
    assert follower.catch_up() == [late.id]
    assert sorted(follower.handled) == [late.id, quick.id]
