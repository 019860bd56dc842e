"""The /live namespace: who may connect, which rooms they may join, what reaches them."""

from __future__ import annotations

import time

import requests

from crisis.auth.models import ApiToken, Availability
from crisis.auth.services import deactivate_user, revoke_token, set_availability
from crisis.incidents.access import assign
from crisis.live.sockets import disconnect_user, registry
from crisis.timeline.models import TimelineEvent
from crisis.timeline.services import record_event
from tests.live.conftest import WAIT, bearer, session_cookie


def incident_event(session, incident, actor=None, type="incident.updated") -> TimelineEvent:
    event = record_event(session, kind="incident", type=type, actor=actor, incident_id=incident.id,
                         subject=incident, summary=f"Incident {incident.reference} updated",
                         data={"fields": ["threat_level"]})
    session.commit()
    return event


# -- connecting ------------------------------------------------------------------


def test_connect_without_credentials_is_refused(live_server, local_client):
    client = local_client()
    assert not client.connect(live_server)
    assert client.connect_errors[0]["message"] == "unauthorized"
    assert "Bearer" in client.connect_errors[0]["data"]["detail"]


def test_connect_with_unknown_or_revoked_token_is_refused(live_server, local_client, create_user,
                                                          token_for, session):
    user = create_user("coordinator")
    token = token_for(user)
    revoke_token(session.query(ApiToken).one())
    session.commit()
    assert not local_client().connect(live_server, headers=bearer("crs_not-a-token"))
    assert not local_client().connect(live_server, headers=bearer(token))
    assert not local_client().connect(live_server, auth={"token": token})


def test_connect_with_bearer_header_auth_token_or_session_cookie(live_server, local_client, create_user,
                                                                 token_for, public_origin):
    user = create_user("outreach")
    token = token_for(user)
    assert local_client().connect(live_server, headers=bearer(token))
    assert local_client().connect(live_server, auth={"token": token})
    _http, cookie = session_cookie(live_server, user.email)
    # Polling first, then the upgrade: what a browser does.
    assert local_client().connect(live_server, headers={"Cookie": cookie}, origin=public_origin,
                                 transports=("polling", "websocket"))


def test_deactivated_user_cannot_connect(live_server, local_client, create_user, token_for, session):
    user = create_user("coordinator")
    token = token_for(user)
    deactivate_user(session, user)
    session.commit()
    assert not local_client().connect(live_server, headers=bearer(token))


def signed_session(app, user, *, second_factor="totp", seen_ago=0.0, logged_in_ago=0.0) -> str:
    """A session cookie as the login would set it, with chosen timestamps."""
    from crisis.auth.sessions import open_record
    from crisis.core.db import db

    now = time.time()
    key = open_record(db.session, user)  # the server's record of the login (issue 14)
    db.session.commit()
    data = {"_user_id": user.get_id(), "_fresh": True, "auth_at": int(now - logged_in_ago),
            "seen_at": int(now - seen_ago), "mfa": second_factor, "sid": key}
    value = app.session_interface.get_signing_serializer(app).dumps(data)
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def test_socket_sessions_follow_the_session_policy(app, live_server, local_client, create_user):
    # Socket.IO requests bypass the pages' before_request: the same policy is applied to them.
    coordinator = create_user("coordinator")
    idle = app.permanent_session_lifetime.total_seconds()
    assert local_client().connect(live_server, headers={"Cookie": signed_session(app, coordinator)})
    for cookie in (
        signed_session(app, coordinator, seen_ago=idle + 60),  # idle too long
        signed_session(app, coordinator, logged_in_ago=13 * 3600),  # logged in too long ago
        signed_session(app, coordinator, second_factor="password"),  # the role needs two factors
    ):
        client = local_client()
        assert not client.connect(live_server, headers={"Cookie": cookie})
        assert client.connect_errors[0]["message"] == "unauthorized"


def test_socket_from_another_site_is_refused_even_with_a_valid_cookie(live_server, local_client, create_user,
                                                                      public_origin):
    # Cross-site WebSocket hijacking: another site's page would carry the user's cookie.
    user = create_user("coordinator")
    _http, cookie = session_cookie(live_server, user.email)
    assert not local_client().connect(live_server, headers={"Cookie": cookie}, origin="https://evil.example")
    assert local_client().connect(live_server, headers={"Cookie": cookie}, origin=public_origin)


def test_socket_from_the_address_the_page_was_loaded_from_is_accepted(live_server, local_client, create_user):
    # Issue 18: a dashboard opened as localhost (not PUBLIC_BASE_URL) must still go live; the
    # browser's Origin then equals the Host the request reached, and that is the same site.
    user = create_user("coordinator")
    _http, cookie = session_cookie(live_server, user.email)
    page_origin = live_server.replace("127.0.0.1", "localhost")
    assert page_origin != live_server
    assert local_client().connect(page_origin, headers={"Cookie": cookie}, origin=page_origin)
    # The same origin sent to a server reached under another name is another site.
    assert not local_client().connect(live_server, headers={"Cookie": cookie}, origin=page_origin)


# -- rooms -----------------------------------------------------------------------


def test_outreach_is_refused_the_dashboard_room(live_server, local_client, create_user, token_for):
    client = local_client()
    assert client.connect(live_server, headers=bearer(token_for(create_user("outreach"))))
    answer = client.join("dashboard")
    assert answer["ok"] is False and answer["status"] == 403 and answer["error"] == "forbidden"
    assert "coordinators" in answer["detail"] and answer["room"] == "dashboard"
    client.wait_until(lambda: client.refused, what="the refused event")
    assert client.refused[0] == answer
    assert client.connected  # a refusal is an answer, not a disconnect


def test_outreach_may_join_only_assigned_incidents(live_server, local_client, create_user, create_incident,
                                                   token_for):
    outreach = create_user("outreach")
    mine = create_incident(assigned=[outreach])
    other = create_incident()
    client = local_client()
    assert client.connect(live_server, headers=bearer(token_for(outreach)))
    assert client.join(f"incident:{mine.id}") == {"ok": True, "room": f"incident:{mine.id}"}
    refused = client.join(f"incident:{other.id}")
    assert refused["ok"] is False and refused["status"] == 403
    # An incident that does not exist gets the same answer: no probing for ids.
    assert client.join("incident:987654")["status"] == 403


def test_coordinator_joins_dashboard_and_any_incident(live_server, local_client, create_user, create_incident,
                                                      token_for):
    coordinator = create_user("coordinator")
    incident = create_incident()
    client = local_client()
    assert client.connect(live_server, headers=bearer(token_for(coordinator)))
    assert client.join("dashboard") == {"ok": True, "room": "dashboard"}
    assert client.join(f"incident:{incident.id}")["ok"] is True
    missing = client.join("incident:987654")
    assert missing["status"] == 404 and "987654" in missing["detail"]
    assert client.leave("dashboard") == {"ok": True, "room": "dashboard"}


def test_unknown_and_private_rooms_are_refused(live_server, local_client, create_user, token_for):
    admin = create_user("admin")
    other = create_user("outreach")
    client = local_client()
    assert client.connect(live_server, headers=bearer(token_for(admin)))
    for room in (f"user:{other.id}", "incident:abc", "incident:0", "", None, ["dashboard"], "x" * 5000):
        answer = client.join(room)
        assert answer["ok"] is False and answer["status"] == 400, room
    assert client.client.call("join", "not a dict or room", namespace="/live", timeout=WAIT)["status"] == 400


def test_join_checks_the_user_again(live_server, local_client, create_user, token_for, session):
    coordinator = create_user("coordinator")
    token = token_for(coordinator)
    client = local_client()
    assert client.connect(live_server, auth={"token": token})
    revoke_token(session.query(ApiToken).one())
    session.commit()
    answer = client.join("dashboard")
    assert answer["status"] == 401
    client.wait_disconnected()


# -- what reaches whom -----------------------------------------------------------


def test_committed_event_reaches_dashboard_incident_room_and_assigned_staff(
        app, live_server, local_client, create_user, create_incident, token_for, session):
    coordinator, manager = create_user("coordinator"), create_user("manager")
    assigned, unassigned = create_user("outreach"), create_user("outreach")
    incident = create_incident(assigned=[assigned])
    on_dashboard, following, mine, not_mine, manager_not_joined = (local_client() for _ in range(5))
    assert on_dashboard.connect(live_server, headers=bearer(token_for(coordinator)))
    assert on_dashboard.join("dashboard")["ok"]
    assert following.connect(live_server, headers=bearer(token_for(manager)))
    assert following.join(f"incident:{incident.id}")["ok"]
    assert mine.connect(live_server, headers=bearer(token_for(assigned)))
    assert not_mine.connect(live_server, headers=bearer(token_for(unassigned)))
    assert manager_not_joined.connect(live_server, headers=bearer(token_for(manager)))

    with app.app_context():  # as a request or a scheduler job commits: the sentences are rendered in it
        event = incident_event(session, incident, actor=coordinator)

    expected = {k: v for k, v in event.as_json().items() if k != "summary"}
    for client in (on_dashboard, following, mine):
        payload = client.event(event.id)
        assert {k: v for k, v in payload.items() if k not in ("summary", "summaries")} == expected
        assert payload["summary"] == payload["summaries"]["sv"] != payload["summaries"]["en"]
    # Someone who follows more than one room gets the event once.
    assert on_dashboard.join(f"incident:{incident.id}")["ok"]
    second = incident_event(session, incident, actor=coordinator)
    on_dashboard.event(second.id)
    mine.event(second.id)
    assert [e["id"] for e in on_dashboard.events].count(second.id) == 1
    assert not not_mine.events and not manager_not_joined.events


def test_a_relative_is_named_in_the_sentence_without_being_looked_up_again(
        app, live_server, local_client, create_user, create_incident, token_for, session):
    """The session that added the relative holds its label (given once, never changed): the
    published sentence names the relative without a query after the commit."""
    from crisis.core.db import db
    from crisis.incidents.services import add_relative
    from tests.statements import counting_statements

    coordinator = create_user("coordinator")
    incident = create_incident()
    watcher = local_client()
    assert watcher.connect(live_server, headers=bearer(token_for(coordinator)))
    assert watcher.join("dashboard")["ok"]
    with app.app_context():  # as a request commits
        relative = add_relative(session, incident, actor=coordinator, relation="parent")
        with counting_statements(db.engine) as statements:
            session.commit()
    event = watcher.wait_until(lambda: next((e for e in watcher.events if e["type"] == "relative.added"), None),
                               what="the relative.added event")
    assert event["data"]["relative_id"] == relative.id
    for language in ("sv", "en"):
        assert event["summaries"][language].startswith(f"{relative.label} "), event["summaries"]
    assert statements and not [s for s in statements if "FROM relatives" in s], statements.describe()


def test_staff_assigned_later_hear_of_the_incident(live_server, local_client, create_user, create_incident,
                                                   token_for, session):
    outreach = create_user("outreach")
    incident = create_incident()
    client = local_client()
    assert client.connect(live_server, headers=bearer(token_for(outreach)))
    assign(session, outreach.id, incident.id)
    event = record_event(session, kind="dispatch", type="dispatch.created", incident_id=incident.id,
                         summary=f"Staff {outreach.id} dispatched", data={"user_id": outreach.id})
    session.commit()
    assert client.event(event.id)["type"] == "dispatch.created"


def test_staff_event_without_incident_goes_to_dashboard_only(app, live_server, local_client, create_user,
                                                             token_for, session):
    coordinator, outreach = create_user("coordinator"), create_user("outreach")
    watcher, colleague = local_client(), local_client()
    assert watcher.connect(live_server, headers=bearer(token_for(coordinator)))
    assert watcher.join("dashboard")["ok"]
    assert colleague.connect(live_server, headers=bearer(token_for(create_user("outreach"))))
    with app.app_context():  # as a request commits
        set_availability(session, outreach, Availability.BUSY)
        session.commit()
    event = watcher.wait_until(lambda: next((e for e in watcher.events if e["type"] == "user.availability_changed"),
                                            None), what="the availability event")
    assert event["data"] == {"user_id": outreach.id, "before": "available", "after": "busy"}
    # The sentence comes rendered in both languages, naming the person (crisis.eventtext.render).
    assert event["summaries"] == {"sv": f"{outreach.name} är nu upptagen", "en": f"{outreach.name} is now busy"}
    assert event["summary"] == event["summaries"]["sv"]
    assert not colleague.events


def test_rolled_back_change_is_not_published(live_server, local_client, create_user, create_incident, token_for,
                                             session):
    coordinator = create_user("coordinator")
    incident = create_incident()
    client = local_client()
    assert client.connect(live_server, headers=bearer(token_for(coordinator)))
    assert client.join("dashboard")["ok"]
    record_event(session, kind="incident", type="incident.updated", incident_id=incident.id, summary="never")
    session.rollback()
    committed = incident_event(session, incident)
    client.event(committed.id)
    assert [e["id"] for e in client.events] == [committed.id]


# -- ending sockets ----------------------------------------------------------------


def test_deactivation_disconnects_every_socket_of_the_user(live_server, local_client, create_user, token_for,
                                                           session):
    user, colleague = create_user("coordinator"), create_user("coordinator")
    token = token_for(user)
    phone, laptop, other = local_client(), local_client(), local_client()
    assert phone.connect(live_server, headers=bearer(token))
    assert laptop.connect(live_server, auth={"token": token})
    assert other.connect(live_server, headers=bearer(token_for(colleague)))
    deactivate_user(session, user, actor=colleague)
    session.commit()
    phone.wait_disconnected()
    laptop.wait_disconnected()
    assert other.connected and not other.disconnects
    assert not local_client().connect(live_server, headers=bearer(token))


def test_logout_disconnects_the_users_sockets(live_server, local_client, create_user, public_origin):
    user = create_user("outreach")
    http, cookie = session_cookie(live_server, user.email)
    client = local_client()
    assert client.connect(live_server, headers={"Cookie": cookie}, origin=public_origin)
    from tests.conftest import CSRF_META

    token = CSRF_META.search(http.get(f"{live_server}/dashboard", timeout=WAIT).text).group(1)
    response = http.post(f"{live_server}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=WAIT)
    assert response.status_code == 302
    client.wait_disconnected()
    # The browser's cookie no longer names a user: a new socket is refused.
    again = local_client()
    assert not again.connect(live_server, headers={"Cookie": f"crisis_session={http.cookies['crisis_session']}"},
                             origin=public_origin)


def test_disconnect_user_counts_and_forgets_sockets(live_server, local_client, create_user, token_for):
    user = create_user("manager")
    token = token_for(user)
    clients = [local_client() for _ in range(3)]
    for client in clients:
        assert client.connect(live_server, headers=bearer(token))
    assert disconnect_user(user.id) == 3
    for client in clients:
        client.wait_disconnected()
    assert disconnect_user(user.id) == 0
    assert registry.sockets_of(user.id) == set()


def test_dashboard_page_is_served_with_the_vendored_client(live_server, create_user):
    user = create_user("coordinator")
    http, _cookie = session_cookie(live_server, user.email)
    page = http.get(f"{live_server}/dashboard", timeout=WAIT)
    assert page.status_code == 200
    for script in ("/static/vendor/socket.io-client/socket.io.min.js", "/static/js/live.js"):
        assert script in page.text
        served = requests.get(f"{live_server}{script}", timeout=WAIT)
        assert served.status_code == 200 and len(served.content) > 1000
