"""Push settings (issue 16, item 5, push half): the API behind /me/device, the test notification,
the VAPID configuration and `crisis push keys`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crisis.core.config import ConfigError, load_settings, vapid_problem
from crisis.push.models import PushSubscription
from crisis.push.vapid import generate_keys
from tests.conftest import csrf_token, login

API = "/api/v1/push"


@pytest.fixture
def worker_client(client, create_user):
    user = create_user("outreach")
    assert login(client, user.email).status_code == 302
    return client, user, {"X-CSRFToken": csrf_token(client, "/me/device")}


def test_turning_push_on_and_off_for_this_device(worker_client, session, vapid, fake_push):
    client, user, headers = worker_client
    subscription = fake_push.new_subscription()
    state = client.get(f"{API}/subscriptions").json
    assert state["available"] is True and state["public_key"] == vapid and state["items"] == []
    # Without the CSRF header a cookie session is refused.
    assert client.post(f"{API}/subscriptions", json=subscription).status_code == 403
    created = client.post(f"{API}/subscriptions", json={**subscription, "device_label": "Chrome / Android"},
                          headers=headers)
    assert created.status_code == 201, created.json
    body = created.json
    assert body["active"] is True and body["device_label"] == "Chrome / Android"
    assert "endpoint" not in body and "keys" not in body  # the capability URL and keys stay on the server
    # The same browser again: still one device.
    assert client.post(f"{API}/subscriptions", json=subscription, headers=headers).status_code == 201
    assert [i["id"] for i in client.get(f"{API}/subscriptions").json["items"]] == [body["id"]]
    row = session.get(PushSubscription, body["id"])
    assert row.endpoint == subscription["endpoint"] and row.user_id == user.id
    page = client.get("/me/device").get_data(as_text=True)
    assert 'data-available="1"' in page and f'data-public-key="{vapid}"' in page
    assert "Slå på pushlarm" in page and "Skicka en testnotis" in page and "/static/js/push.js" in page
    # A test notification reaches the device.
    tested = client.post(f"{API}/test", headers=headers)
    assert tested.status_code == 200 and tested.json["accepted"] == 1
    assert fake_push.delivered()[-1].payload["title"] == "Testnotis"
    # Off.
    off = client.delete(f"{API}/subscriptions/{body['id']}", headers=headers)
    assert off.status_code == 200 and off.json["active"] is False and off.json["removed_reason"] == "unsubscribed"
    assert client.post(f"{API}/test", headers=headers).status_code == 409  # no device left


def test_subscriptions_are_checked_and_private(worker_client, session, create_user, vapid, fake_push):
    client, user, headers = worker_client
    good = fake_push.new_subscription()
    for bad, field in (({**good, "endpoint": "ftp://push.example/x"}, "endpoint"),
                       ({**good, "endpoint": "http://push.example.com/x"}, "endpoint"),
                       ({**good, "keys": {"p256dh": "abc", "auth": good["keys"]["auth"]}}, "p256dh"),
                       ({**good, "keys": {"p256dh": good["keys"]["p256dh"], "auth": "!!"}}, "auth"),
                       ({**good, "keys": "x"}, "keys"),
                       ({**good, "extra": 1}, "extra")):
        response = client.post(f"{API}/subscriptions", json=bad, headers=headers)
        assert response.status_code == 422, (bad, response.json)
        assert field in response.json["detail"]
    other = create_user("outreach")
    from crisis.push.services import subscribe

    theirs = subscribe(session, other, endpoint=good["endpoint"], p256dh=good["keys"]["p256dh"],
                       auth=good["keys"]["auth"])
    session.commit()
    assert client.delete(f"{API}/subscriptions/{theirs.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/subscriptions").json["items"] == []


def test_bearer_tokens_work_without_csrf(client, session, create_user, vapid, fake_push):
    from crisis.auth.services import create_token

    user = create_user("outreach")
    token = create_token(session, user, name="phone").token
    session.commit()
    response = client.post(f"{API}/subscriptions", json=fake_push.new_subscription(),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json


def test_without_vapid_keys_the_page_says_push_is_not_available_and_why(worker_client, fake_push):
    client, _user, headers = worker_client
    page = client.get("/me/device").get_data(as_text=True)
    assert 'data-available="0"' in page
    assert "Pushlarm finns inte här: servern har inga VAPID-nycklar" in page
    state = client.get(f"{API}/subscriptions").json
    assert state == {"available": False, "reason": "not_configured", "public_key": None, "items": [],
                     "next_cursor": None}
    response = client.post(f"{API}/subscriptions", json=fake_push.new_subscription(), headers=headers)
    assert response.status_code == 409


def test_production_refuses_a_half_set_or_mismatched_vapid_pair():
    public, private = generate_keys()
    other_public, _ = generate_keys()
    base = {"CRISIS_ENV": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql+psycopg://db/crisis",
            "ENCRYPTION_KEYS": "A" * 43 + "=", "PUBLIC_BASE_URL": "https://krisstod.example.se",
            "SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+4670",
            "REDIS_URL": "redis://r:6379/0", "VAPID_SUBJECT": "mailto:ops@example.se"}
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY is not set but the other VAPID key is"):
        load_settings({**base, "VAPID_PUBLIC_KEY": public})
    with pytest.raises(ConfigError, match="VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY"):
        load_settings({**base, "VAPID_PUBLIC_KEY": other_public, "VAPID_PRIVATE_KEY": private})
    settings = load_settings({**base, "VAPID_PUBLIC_KEY": public, "VAPID_PRIVATE_KEY": private})
    assert settings.vapid_public_key == public and settings.push_sms_fallback_seconds == 60
    assert vapid_problem(public, private, "ops@example.se") is not None  # the subject must be mailto:/https:
    with pytest.raises(ConfigError, match="PUSH_SMS_FALLBACK_SECONDS"):
        load_settings({"PUSH_SMS_FALLBACK_SECONDS": "-1"})


def test_crisis_push_keys_prints_a_working_pair():
    from crisis.cli import main

    result = CliRunner().invoke(main, ["push", "keys"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("VAPID_"))
    assert set(lines) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}
    assert vapid_problem(lines["VAPID_PUBLIC_KEY"], lines["VAPID_PRIVATE_KEY"], "mailto:ops@example.se") is None


def test_a_half_set_pair_outside_production_turns_push_off_and_the_page_says_why(worker_client, app,
                                                                                 monkeypatch, session):
    client, user, _headers = worker_client
    public, _private = generate_keys()
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", None)
    page = client.get("/me/device").get_data(as_text=True)
    assert 'data-available="0"' in page and "serverns VAPID-nycklar är felaktigt inställda" in page
    assert client.get(f"{API}/subscriptions").json["reason"] == "misconfigured"
    with app.app_context():
        from crisis.push.services import push_config, push_ready_users

        assert push_config() is None and push_ready_users(session, [user.id]) == set()
