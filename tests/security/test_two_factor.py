"""Two-factor authentication: the code step, enrolment, replay, recovery codes, limits."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select

from crisis.auth import twofactor
from crisis.auth.models import RecoveryCode, User, UserRole
from crisis.core.db import db
from tests.conftest import csrf_token, login, totp_code

SECRET_ON_PAGE = re.compile(r'class="secret-key" translate="no"><code>([A-Z2-7 ]+)</code>')
CODES_ON_PAGE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def password_step(client, email: str, password: str = "correct horse battery"):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)})


def code_step(client, code: str):
    return client.post("/login/verify", data={"code": code, "csrf_token": csrf_token(client, "/login")})


def enrol_step(client, code: str):
    return client.post("/login/enrol", data={"code": code, "csrf_token": csrf_token(client, "/login/enrol")})


def fresh(user) -> User:
    db.session.remove()
    return db.session.get(User, user.id)


def test_coordinator_needs_a_code_after_the_password(client, create_user):
    user = create_user("coordinator")
    response = password_step(client, user.email)
    assert response.status_code == 302 and response.headers["Location"] == "/login/verify"
    # Half-way in is not logged in: every page still sends to the login.
    assert client.get("/incidents").headers["Location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401
    assert code_step(client, "000000").status_code == 401
    response = code_step(client, totp_code(user.email))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/incidents").status_code == 200


def test_a_used_code_is_refused_the_second_time(app, create_user):
    user = create_user("manager")
    first, second = app.test_client(), app.test_client()
    code = totp_code(user.email)
    password_step(first, user.email)
    assert code_step(first, code).status_code == 302
    password_step(second, user.email)
    assert code_step(second, code).status_code == 401  # seen over a shoulder: no use
    assert second.get("/api/v1/me").status_code == 401


def test_replay_is_refused_in_the_service_too(session, create_user):
    user = create_user("admin")
    code = pyotp.TOTP(user.totp_secret).now()
    assert twofactor.verify_totp(session, user, code)
    assert not twofactor.verify_totp(session, user, code)
    session.commit()
    # An older code (the previous step) is refused once a newer one was used.
    previous = pyotp.TOTP(user.totp_secret).at(datetime.now(UTC).timestamp() - 30)
    assert not twofactor.verify_totp(session, fresh(user), previous)


def test_codes_from_another_time_are_refused(session, create_user):
    user = create_user("admin")
    stale = pyotp.TOTP(user.totp_secret).at(time.time() - 120)
    assert twofactor.matching_counter(user.totp_secret, stale) is None
    assert twofactor.matching_counter(user.totp_secret, "12345") is None
    assert twofactor.matching_counter(user.totp_secret, "abcdef") is None


def test_required_role_without_2fa_must_enrol_before_anything_else(client, create_user, session):
    user = create_user("coordinator", totp=False)
    response = password_step(client, user.email)
    assert response.headers["Location"] == "/login/enrol"
    assert client.get("/incidents").headers["Location"].startswith("/login")
    assert client.get("/login/verify").headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = SECRET_ON_PAGE.search(page).group(1).replace(" ", "")
    uri = re.search(r'href="(otpauth://totp/[^"]+)"', page).group(1).replace("&amp;", "&")
    assert user.email.replace("@", "%40") in uri and f"secret={secret}" in uri and "issuer=" in uri
    assert user.name not in uri  # the app account is the e-mail, never a name
    # The secret is not stored before it is confirmed, and not in the cookie in clear.
    assert fresh(user).totp_secret is None
    assert secret not in (client.get_cookie("crisis_session").value or "")
    assert enrol_step(client, "123456").status_code == 401
    response = enrol_step(client, pyotp.TOTP(secret).now())
    assert response.status_code == 200
    codes = CODES_ON_PAGE.findall(response.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert fresh(user).totp_secret == secret
    # Logged in now, and the recovery codes are stored hashed only.
    assert client.get("/incidents").status_code == 200
    hashes = session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(hashes) == 10
    assert not any(code.replace("-", "") in h for code in codes for h in hashes)


def test_the_enrolment_secret_stays_the_same_until_confirmed(client, create_user):
    user = create_user("manager", totp=False)
    password_step(client, user.email)
    first = SECRET_ON_PAGE.search(client.get("/login/enrol").get_data(as_text=True)).group(1)
    second = SECRET_ON_PAGE.search(client.get("/login/enrol").get_data(as_text=True)).group(1)
    assert first == second


def test_outreach_logs_in_with_the_password_alone_and_may_turn_2fa_on_and_off(client, create_user):
    user = create_user("outreach")
    assert login(client, user.email).headers["Location"] == "/"
    page = client.get("/account/security").get_data(as_text=True)
    assert "/login/enrol" in page
    secret = SECRET_ON_PAGE.search(client.get("/login/enrol").get_data(as_text=True)).group(1).replace(" ", "")
    response = enrol_step(client, pyotp.TOTP(secret).now())
    assert len(CODES_ON_PAGE.findall(response.get_data(as_text=True))) == 10
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/security")})
    assert password_step(client, user.email).headers["Location"] == "/login/verify"
    assert code_step(client, totp_code(user.email)).status_code == 302
    token = csrf_token(client, "/account/security")
    assert client.post("/account/security/turn-off", data={"code": "000000", "csrf_token": token}).status_code == 302
    assert fresh(user).totp_secret is not None
    response = client.post("/account/security/turn-off", data={"code": totp_code(user.email), "csrf_token": token})
    assert response.status_code == 302
    assert fresh(user).totp_secret is None
    assert client.get("/me/tasks").status_code == 200  # still logged in


def test_required_roles_cannot_turn_2fa_off(client, create_user):
    user = create_user("coordinator")
    login(client, user.email)
    token = csrf_token(client, "/account/security")
    client.post("/account/security/turn-off", data={"code": totp_code(user.email), "csrf_token": token})
    assert fresh(user).totp_secret is not None


def test_recovery_codes_work_once_each(app, client, create_user, session):
    user = create_user("coordinator")
    codes = twofactor.issue_recovery_codes(session, user)
    session.commit()
    password_step(client, user.email)
    response = code_step(client, codes[3].upper())  # typed in capitals: still fine
    assert response.status_code == 302
    assert twofactor.recovery_codes_left(db.session, user) == 9
    other = app.test_client()
    password_step(other, user.email)
    assert code_step(other, codes[3]).status_code == 401
    assert code_step(other, codes[4]).status_code == 302


def test_new_recovery_codes_need_a_code_and_replace_the_old(client, create_user, session):
    user = create_user("manager")
    old = twofactor.issue_recovery_codes(session, user)
    session.commit()
    login(client, user.email)
    token = csrf_token(client, "/account/security")
    client.post("/account/security/recovery-codes", data={"code": "111111", "csrf_token": token})
    assert twofactor.use_recovery_code(db.session, fresh(user), old[0])  # wrong code: nothing changed
    db.session.rollback()
    response = client.post("/account/security/recovery-codes", data={"code": totp_code(user.email),
                                                                     "csrf_token": token})
    new = CODES_ON_PAGE.findall(response.get_data(as_text=True))
    assert len(new) == 10
    assert not twofactor.use_recovery_code(db.session, fresh(user), old[1])
    assert twofactor.use_recovery_code(db.session, fresh(user), new[0])


def test_five_wrong_codes_send_back_to_the_password_and_the_account_is_limited(client, create_user):
    user = create_user("admin")
    password_step(client, user.email)
    statuses = [code_step(client, "000000").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 302]
    assert client.get("/login/verify").headers["Location"] == "/login"
    # Logging in again does not buy more guesses this minute: the limit is per account.
    password_step(client, user.email)
    assert code_step(client, totp_code(user.email)).status_code == 429


def test_the_code_step_expires(client, create_user):
    user = create_user("coordinator")
    password_step(client, user.email)
    with client.session_transaction() as cookie_session:
        cookie_session["_2fa_pending"]["exp"] = int(time.time()) - 1
    response = code_step(client, totp_code(user.email))
    assert response.headers["Location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401


def test_deactivation_during_the_code_step_ends_it(client, create_user, session):
    from crisis.auth.services import deactivate_user

    user = create_user("coordinator")
    password_step(client, user.email)
    deactivate_user(session, fresh(user))
    session.commit()
    assert code_step(client, totp_code(user.email)).headers["Location"] == "/login"


def test_a_session_without_2fa_ends_when_the_role_starts_to_need_it(client, create_user, session):
    user = create_user("outreach")
    login(client, user.email)
    assert client.get("/me/tasks").status_code == 200
    session.add(UserRole(user_id=user.id, role="coordinator"))
    session.commit()
    response = client.get("/me/tasks")
    assert response.headers["Location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401


def test_required_roles_follow_the_configuration(app, monkeypatch, client, create_user):
    monkeypatch.setitem(app.config, "TOTP_REQUIRED_ROLES", ("admin",))
    user = create_user("manager", totp=False)
    assert login(client, user.email).headers["Location"] == "/"


def test_admin_resets_a_lost_factor_from_the_command_line(app, client, create_user):
    from crisis.cli import main

    user = create_user("coordinator")
    login(client, user.email)
    result = app.test_cli_runner().invoke(main, ["users", "reset-2fa", user.email, "--reason", "lost phone"])
    assert result.exit_code == 0, result.output
    assert fresh(user).totp_secret is None
    assert client.get("/incidents").headers["Location"].startswith("/login")  # every session ended
    assert password_step(client, user.email).headers["Location"] == "/login/enrol"


@pytest.mark.parametrize("path", ["/login/verify", "/login/enrol"])
def test_steps_without_a_password_first_send_to_the_login(client, app, path):
    assert client.get(path).headers["Location"] == "/login"
