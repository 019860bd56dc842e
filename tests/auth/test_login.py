from crisis.auth.models import User
from crisis.auth.services import deactivate_user
from tests.conftest import csrf_token, login


def test_login_page_is_swedish_by_default(client, app):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="sv">' in page
    assert "Logga in" in page


def test_language_switch_to_english(client, app):
    token = csrf_token(client)
    client.post("/lang/en", data={"csrf_token": token, "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Log in" in page


def test_login_with_right_password_reaches_start_page(client, create_user):
    user = create_user("coordinator")
    response = login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/incidents?status=active"


def test_login_with_wrong_password_is_refused(client, create_user):
    user = create_user("outreach")
    response = login(client, user.email, "wrong password!")
    assert response.status_code == 401
    assert "Fel e-postadress eller lösenord" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous


def test_login_for_unknown_email_looks_like_wrong_password(client, app):
    response = login(client, "nobody@example.se", "whatever123")
    assert response.status_code == 401


def test_login_without_csrf_token_is_refused(client, create_user):
    user = create_user("outreach")
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 403


def test_login_is_rate_limited(client, create_user):
    user = create_user("outreach")
    statuses = [login(client, user.email, f"wrong-{i}-password").status_code for i in range(12)]
    # Five free tries, then progressive delays (issue 14), and at most ten a minute from one address.
    assert statuses[:6] == [401] * 6
    assert statuses[10:] == [429, 429]
    # The right password does not get through while the limit holds.
    assert login(client, user.email).status_code == 429


def test_open_redirect_after_login_is_refused(client, create_user):
    user = create_user("outreach")
    token = csrf_token(client)
    response = client.post(
        "/login?next=https://evil.example/", data={"email": user.email,
                                                  "password": "correct horse battery", "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_logout_needs_post_with_csrf(client, logged_in):
    logged_in("outreach")
    assert client.get("/me/tasks").status_code == 200
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 403
    token = csrf_token(client, "/me/tasks")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/me/tasks").status_code == 302


def test_deactivation_ends_existing_sessions(client, logged_in, session):
    user = logged_in("outreach")
    assert client.get("/me/tasks").status_code == 200
    deactivate_user(session, session.get(User, user.id))
    session.commit()
    assert client.get("/me/tasks").headers["Location"].startswith("/login")


def test_inactive_user_cannot_log_in(client, create_user, session):
    user = create_user("outreach")
    deactivate_user(session, user)
    session.commit()
    assert login(client, user.email).status_code == 401


def test_security_headers_on_pages(client, app):
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
