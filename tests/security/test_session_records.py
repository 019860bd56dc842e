"""Finding 1 (issue 14): sessions live on the server; logout, sign-out-everywhere, deactivation and the
idle timeout end them for good, and wrong two-factor codes are counted on the server."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update

from crisis.auth.guards import SEEN_AT
from crisis.auth.models import AuthSession, User
from crisis.auth.services import deactivate_user
from crisis.auth.sessions import end_user_sessions
from crisis.core.db import db, utcnow
from tests.conftest import csrf_token, login

COOKIE = "crisis_session"


def copied_cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def replay(app, cookie: str):
    """Another browser (the attacker's) sending a copied cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    return other


def refused(client) -> bool:
    page = client.get("/me/tasks")
    return (page.status_code == 302 and page.headers["Location"].startswith("/login")
            and client.get("/api/v1/me").status_code == 401)


def test_a_copied_cookie_stops_working_after_logout(app, client, create_user):
    user = create_user("outreach")
    login(client, user.email)
    cookie = copied_cookie(client)
    assert replay(app, cookie).get("/me/tasks").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/me/tasks")})
    assert refused(replay(app, cookie))
    record = db.session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
    assert record.ended_at is not None and record.ended_reason == "logout"


def test_sign_out_everywhere_ends_every_session_of_the_user(app, create_user, session):
    user = create_user("outreach")
    phone, laptop = app.test_client(), app.test_client()
    login(phone, user.email)
    login(laptop, user.email)
    # Issue 12's "sign out everywhere" bumps the generation: every record made before is refused.
    session.execute(update(User).where(User.id == user.id).values(session_generation=User.session_generation + 1))
    session.commit()
    assert refused(phone) and refused(laptop)


def test_ending_every_record_of_a_user_signs_them_out(app, create_user, session):
    user = create_user("outreach")
    browser = app.test_client()
    login(browser, user.email)
    cookie = copied_cookie(browser)
    assert end_user_sessions(session, user.id) == 1
    session.commit()
    assert refused(replay(app, cookie))


def test_deactivation_ends_a_copied_session(app, client, create_user, session):
    user = create_user("outreach")
    login(client, user.email)
    cookie = copied_cookie(client)
    deactivate_user(session, session.get(User, user.id))
    session.commit()
    # Reactivated (a mistake undone): the old session still does not come back.
    session.get(User, user.id).active = True
    session.commit()
    assert refused(replay(app, cookie))


def test_the_idle_timeout_is_decided_on_the_server(app, client, create_user, session):
    user = create_user("outreach")
    login(client, user.email)
    session.execute(update(AuthSession).where(AuthSession.user_id == user.id)
                    .values(last_seen_at=utcnow() - timedelta(minutes=31)))
    session.commit()
    # A cookie whose own stamps look fresh (forged or replayed) does not help.
    with client.session_transaction() as cookie_session:
        cookie_session[SEEN_AT] = int(time.time())
    assert refused(client)
    record = db.session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
    assert record.ended_reason == "idle"
    # Ended for good: making the record look fresh again is no use either.
    session.execute(update(AuthSession).where(AuthSession.user_id == user.id).values(last_seen_at=utcnow()))
    session.commit()
    with client.session_transaction() as cookie_session:
        cookie_session[SEEN_AT] = int(time.time())
    assert refused(client)


def test_replaying_the_cookie_does_not_reset_the_count_of_wrong_codes(client, create_user):
    user = create_user("coordinator")
    client.post("/login", data={"email": user.email, "password": "correct horse battery",
                                "csrf_token": csrf_token(client)})
    before_any_wrong_code = copied_cookie(client)

    def wrong_code():
        return client.post("/login/verify", data={"code": "000000", "csrf_token": csrf_token(client, "/login")})

    for _ in range(4):
        assert wrong_code().status_code == 401
        client.set_cookie(COOKIE, before_any_wrong_code)  # the old cookie, with its old count
    response = wrong_code()  # the fifth: back to the password, whatever the cookie says
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    client.set_cookie(COOKIE, before_any_wrong_code)
    assert client.get("/login/verify").headers["Location"] == "/login"


def test_a_login_writes_no_session_record_key_in_clear(client, create_user):
    user = create_user("outreach")
    login(client, user.email)
    with client.session_transaction() as cookie_session:
        key = cookie_session["sid"]
    stored = db.session.scalars(select(AuthSession.key_hash)).all()
    assert stored and key not in stored
