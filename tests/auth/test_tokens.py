from datetime import timedelta

from crisis.auth.models import ApiToken
from crisis.auth.services import create_token, revoke_token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_token_authenticates_api_calls(client, create_user, session):
    user = create_user("coordinator")
    issued = create_token(session, user, "test")
    session.commit()
    response = client.get("/api/v1/me", headers=bearer(issued.token))
    assert response.status_code == 200
    assert response.json["email"] == user.email
    assert response.json["roles"] == ["coordinator"]


def test_token_is_stored_hashed_and_shown_once(create_user, session):
    user = create_user("coordinator")
    issued = create_token(session, user)
    session.commit()
    stored = session.get(ApiToken, issued.record.id)
    assert issued.token not in (stored.token_hash, stored.prefix)
    assert len(stored.token_hash) == 64


def test_wrong_token_gets_problem_json_401(client, app):
    response = client.get("/api/v1/me", headers=bearer("crs_not-a-token"))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "Bearer" in response.json["detail"]


def test_revoked_and_expired_tokens_are_refused(client, create_user, session):
    user = create_user("coordinator")
    revoked = create_token(session, user)
    expired = create_token(session, user, valid_for=timedelta(seconds=-1))
    revoke_token(revoked.record)
    session.commit()
    assert client.get("/api/v1/me", headers=bearer(revoked.token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(expired.token)).status_code == 401


def test_role_is_refused_with_403(client, create_user, session):
    outreach = create_user("outreach")
    issued = create_token(session, outreach)
    session.commit()
    response = client.get("/api/v1/users", headers=bearer(issued.token))
    assert response.status_code == 403
    assert "admin" in response.json["detail"]


def test_admin_lists_users(client, create_user, session):
    admin = create_user("admin")
    create_user("outreach")
    issued = create_token(session, admin)
    session.commit()
    response = client.get("/api/v1/users", headers=bearer(issued.token))
    assert response.status_code == 200
    assert len(response.json["items"]) == 2


def test_cookie_session_api_write_needs_csrf_header(client, logged_in):
    logged_in("outreach")
    response = client.post("/api/v1/me/availability", json={"availability": "busy"})
    assert response.status_code == 403
    assert "X-CSRFToken" in response.json["detail"]
