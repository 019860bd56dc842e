"""Several web processes behind one Redis message queue (issue 5, "Several web processes").

Two gunicorn processes serve the test database; Redis carries Socket.IO
events between them. A change made through one process, or by a process that
serves no sockets at all (as the scheduler), reaches clients of both; logout
and deactivation close a user's sockets wherever they are; a client that
reconnects catches up without gaps or duplicates.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import select

from crisis.timeline.models import TimelineEvent
from tests.conftest import CSRF_META
from tests.live.conftest import WAIT, bearer, run_in_other_process, session_cookie
from tests.live.follower import Follower

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def watch_dashboard(live_client, web, token: str):
    client = live_client()
    assert client.connect(web.url, headers=bearer(token)), web.log_tail()
    assert client.join("dashboard")["ok"]
    return client


def test_change_through_one_process_reaches_clients_of_both(web_processes, live_client, create_user,
                                                            token_for, session):
    a, b = web_processes
    coordinator, outreach = create_user("coordinator"), create_user("outreach")
    watcher_token = token_for(coordinator)
    on_a, on_b = watch_dashboard(live_client, a, watcher_token), watch_dashboard(live_client, b, watcher_token)

    response = requests.post(f"{a.url}/api/v1/me/availability", json={"availability": "busy"},
                             headers=bearer(token_for(outreach)), timeout=WAIT)
    assert response.status_code == 200, response.text

    event = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "user.availability_changed")).one()
    assert facts(on_a.event(event.id)) == facts(event.as_json())
    assert facts(on_b.event(event.id)) == facts(event.as_json())
    assert on_a.event(event.id)["summaries"]["sv"].endswith("är nu upptagen")


def test_change_by_a_process_without_sockets_reaches_both(web_processes, live_client, create_user, create_incident,
                                                          token_for, session, database_url):
    # The scheduler process serves no sockets: its events go out through Redis only.
    a, b = web_processes
    coordinator, outreach = create_user("coordinator"), create_user("outreach")
    incident = create_incident(assigned=[outreach])
    on_a = watch_dashboard(live_client, a, token_for(coordinator))
    assigned_on_b = live_client()
    assert assigned_on_b.connect(b.url, headers=bearer(token_for(outreach)))

    run_in_other_process(database_url, f"""
from crisis.timeline.services import record_event
record_event(db.session, kind="task", type="task.overdue", actor="scheduler", incident_id={incident.id},
             summary="Task overdue", data={{"task_id": 1}})
db.session.commit()
""")
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "task.overdue")).one()
    assert event.actor_label == "scheduler"
    assert facts(on_a.event(event.id)) == facts(event.as_json())
    assert facts(assigned_on_b.event(event.id)) == facts(event.as_json())


def test_deactivation_closes_the_users_sockets_in_every_process(web_processes, live_client, create_user,
                                                                token_for, database_url):
    a, b = web_processes
    user, colleague = create_user("coordinator"), create_user("coordinator")
    token = token_for(user)
    on_a, on_b = live_client(), live_client()
    assert on_a.connect(a.url, headers=bearer(token))
    assert on_b.connect(b.url, auth={"token": token})
    bystander = watch_dashboard(live_client, b, token_for(colleague))

    # Deactivated by a third process: the sockets are found through Redis.
    run_in_other_process(database_url, f"""
from crisis.auth.models import User
from crisis.auth.services import deactivate_user
deactivate_user(db.session, db.session.get(User, {user.id}), actor=db.session.get(User, {colleague.id}))
db.session.commit()
""")
    on_a.wait_disconnected()
    on_b.wait_disconnected()
    bystander.wait_until(lambda: any(e["type"] == "user.deactivated" for e in bystander.events))
    assert bystander.connected
    assert not live_client().connect(b.url, headers=bearer(token))


def test_logout_on_one_process_closes_the_socket_on_the_other(web_processes, live_client, create_user):
    a, b = web_processes
    user = create_user("manager")
    http, cookie = session_cookie(a.url, user.email)
    on_b = live_client()
    assert on_b.connect(b.url, headers={"Cookie": cookie}), b.log_tail()
    csrf = CSRF_META.search(http.get(f"{a.url}/dashboard", timeout=WAIT).text).group(1)
    assert http.post(f"{a.url}/logout", data={"csrf_token": csrf}, allow_redirects=False,
                     timeout=WAIT).status_code == 302
    on_b.wait_disconnected()


def test_reconnect_catches_up_without_gaps_or_duplicates(web_processes, live_client, create_user, token_for,
                                                         session):
    a, b = web_processes
    coordinator, writer = create_user("coordinator"), create_user("outreach")
    watcher_token, writer_token = token_for(coordinator), token_for(writer)
    dashboard = requests.get(f"{b.url}/api/v1/dashboard", headers=bearer(watcher_token), timeout=WAIT).json()
    follower = Follower(b.url, bearer(watcher_token), resume_after=dashboard["resume_after"])

    changes = 60
    written = threading.Event()

    def write_changes():
        # Changes keep coming through process A while the client on B drops and reconnects.
        for n in range(changes):
            availability = "busy" if n % 2 == 0 else "available"
            response = requests.post(f"{a.url}/api/v1/me/availability", json={"availability": availability},
                                     headers=bearer(writer_token), timeout=WAIT)
            assert response.status_code == 200, response.text
            time.sleep(0.02)
        written.set()

    first = live_client()
    first.on_event = follower.handle
    assert first.connect(b.url, headers=bearer(watcher_token)) and first.join("dashboard")["ok"]
    writer_thread = threading.Thread(target=write_changes)
    writer_thread.start()
    first.wait_until(lambda: len(first.events) >= 10, what="the first events")
    first.close()  # the connection drops
    time.sleep(0.3)  # changes go on meanwhile

    second = live_client()
    second.on_event = follower.handle
    assert second.connect(b.url, headers=bearer(watcher_token)) and second.join("dashboard")["ok"]
    follower.catch_up()
    writer_thread.join(timeout=60)
    assert written.is_set()

    start = dashboard["resume_after"]
    expected = list(session.scalars(select(TimelineEvent.id).where(TimelineEvent.id > start)
                                    .order_by(TimelineEvent.id)))
    assert len(expected) >= changes
    second.wait_until(lambda: set(follower.handled) >= set(expected), what="every event")
    assert sorted(follower.handled) == expected  # no gaps
    assert len(follower.handled) == len(set(follower.handled))  # each handled once
    assert follower.dropped > 0  # events did arrive twice (live and by catching up) and were dropped
    for after, ids in follower.fetched_after:
        assert all(i > after for i in ids) and ids == sorted(ids)  # the server's side of the bargain
    assert len(first.events) < changes  # the first connection really missed some


def facts(payload: dict) -> dict:
    """An event's facts: its payload without the sentences rendered for readers."""
    return {k: v for k, v in payload.items() if k not in ("summary", "summaries")}
