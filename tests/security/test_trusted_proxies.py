"""Finding 10 (issue 14): X-Forwarded-For is trusted only from TRUSTED_PROXIES proxies (default 0), so
rotating that header no longer dodges the per-address limits."""

from __future__ import annotations

from flask import Flask, request

from crisis.app import trust_proxies
from crisis.core.config import load_settings
from tests.conftest import csrf_token


def test_by_default_a_rotating_forwarded_for_does_not_reset_the_login_limit(client, create_user):
    token = csrf_token(client)
    statuses = [
        client.post("/login", data={"email": f"guess{i}@example.se", "password": "wrong password",
                                    "csrf_token": token},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(12)
    ]
    assert statuses[-1] == 429, statuses  # 10 a minute per address: the header changed nothing


def echo_app(hops: int):
    app = Flask(__name__)
    app.get("/")(lambda: request.remote_addr)
    app.wsgi_app = trust_proxies(app.wsgi_app, hops)
    return app.test_client()


def test_behind_one_load_balancer_the_address_it_saw_is_used():
    headers = {"X-Forwarded-For": "198.51.100.7, 192.0.2.1"}  # spoofed by the client, then the LB's view
    assert echo_app(0).get("/", headers=headers).get_data(as_text=True) == "127.0.0.1"
    assert echo_app(1).get("/", headers=headers).get_data(as_text=True) == "192.0.2.1"


def test_the_setting_defaults_to_no_proxy():
    assert load_settings({}).trusted_proxies == 0
    assert load_settings({"TRUSTED_PROXIES": "1"}).trusted_proxies == 1
