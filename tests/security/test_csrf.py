"""CSRF: every state-changing route refuses a request without a valid token (CTFd's test, for all routes).

The list is generated from the URL map, so a form route added later is
covered without touching this file. Twilio's webhooks are the exception
(they carry Twilio's signature instead; tests/security/test_webhooks.py), and so
is a push notification's acknowledge button, which carries the push's single-use
token (tests/push).
"""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

from tests.conftest import csrf_token

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Twilio's webhooks carry Twilio's signature; a push notification's button carries the push's
# single-use token (docs/access-matrix.md, "Public routes").
SIGNED_INSTEAD = ("/webhooks/twilio/", "/push/ack")


ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _url(rule: Rule) -> str:
    """The rule with a value for each part: 1 for numbers, "x" for text."""
    values = {name: 1 if converter in ("int", "float") else "x" for converter, name in ARGUMENT.findall(rule.rule)}
    return rule.build(values, append_unknown=False)[1]


def write_routes(app, *, api: bool) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SIGNED_INSTEAD) or rule.rule.startswith("/api/") != api:
            continue
        for method in sorted(rule.methods & set(WRITE_METHODS)):
            routes.append((method, _url(rule)))
    return sorted(routes)


@pytest.fixture
def admin_client(app, client, logged_in):
    logged_in("admin")
    return client


def test_form_routes_are_found(app):
    routes = write_routes(app, api=False)
    assert ("POST", "/logout") in routes and ("POST", "/tasks/1") in routes
    assert len(routes) >= 15


def test_every_form_post_without_a_token_is_refused(app, admin_client):
    refused, answered = [], []
    for method, url in write_routes(app, api=False):
        response = admin_client.open(url, method=method, data={"note": "x", "reason": "x"})
        (refused if response.status_code == 403 else answered).append(f"{method} {url} -> {response.status_code}")
    assert not answered, "These accepted a form without a CSRF token:\n  " + "\n  ".join(answered)
    assert admin_client.get("/account/security").status_code == 200  # still logged in: nothing happened


def test_every_form_post_with_a_forged_token_is_refused(app, admin_client):
    for method, url in write_routes(app, api=False):
        response = admin_client.open(url, method=method, data={"csrf_token": "forged.token.value"})
        assert response.status_code == 403, f"{method} {url} accepted a forged token"


def test_a_token_from_another_session_is_refused(app, admin_client):
    stranger = app.test_client()
    foreign = csrf_token(stranger)  # valid for the stranger's session, not the admin's
    response = admin_client.post("/logout", data={"csrf_token": foreign})
    assert response.status_code == 403


def test_the_refusal_page_says_what_to_do(app, admin_client):
    page = admin_client.post("/logout").get_data(as_text=True)
    assert "Ladda om sidan" in page or "Reload the page" in page


def test_every_api_write_with_the_session_cookie_needs_the_header(app, admin_client):
    answered = []
    for method, url in write_routes(app, api=True):
        response = admin_client.open(url, method=method, json={})
        if response.status_code != 403 or "X-CSRFToken" not in response.json.get("detail", ""):
            answered.append(f"{method} {url} -> {response.status_code}")
    assert not answered, "These API writes accepted a cookie session without X-CSRFToken:\n  " + "\n  ".join(answered)


def test_api_writes_with_a_bearer_token_need_no_csrf_header(app, client, create_user, session):
    from crisis.auth.services import create_token

    token = create_token(session, create_user("outreach")).token
    session.commit()
    response = client.post("/api/v1/me/availability", json={"availability": "busy"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
