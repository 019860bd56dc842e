"""Webhook signatures: what the fake signs with Twilio's code, the app verifies."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

from crisis.messaging.gateway import SendRequest
from crisis.messaging.twilio_signature import public_request_url, verify_twilio_request

STATUS_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"
PUBLIC = "https://crisis.example.se"


@pytest.fixture
def create_webhook_app(fake_twilio):
    """Factory: a tiny Flask app whose webhooks answer 204 if signed, else 403."""

    def create(public_base_url: str | None = None, proxy_fix: bool = False) -> Flask:
        app = Flask(__name__)
        app.config.update(TWILIO_AUTH_TOKEN=fake_twilio.auth_token, PUBLIC_BASE_URL=public_base_url)
        app.received = []

        @app.post(STATUS_PATH)
        @app.post(INBOUND_PATH)
        def webhook():
            ok = verify_twilio_request(
                request,
                current_app.config["TWILIO_AUTH_TOKEN"],
                current_app.config["PUBLIC_BASE_URL"],
            )
            if not ok:
                return "", 403
            app.received.append(request.form.to_dict())
            return "", 204

        if proxy_fix:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)
        return app

    return create


@pytest.fixture
def sent_message(fake_twilio, create_twilio_gateway):
    """Factory: send one message through the fake with a given StatusCallback."""

    def send(status_callback: str):
        result = create_twilio_gateway().send(
            SendRequest(
                to="+46701740606",
                body="Larm K-17",
                status_callback=status_callback,
                idempotency_key="m-1",
            )
        )
        return fake_twilio.get(result.provider_id)

    return send


def test_status_callback_signed_by_fake_is_accepted(fake_twilio, create_webhook_app, sent_message):
    app = create_webhook_app()
    message = sent_message(f"http://localhost{STATUS_PATH}")

    url, params, signature = fake_twilio.build_status_callback(message.sid, "delivered")
    response = app.test_client().post(
        STATUS_PATH, data=params, headers={"X-Twilio-Signature": signature}
    )

    assert url == f"http://localhost{STATUS_PATH}"
    assert response.status_code == 204
    [received] = app.received
    assert received["MessageSid"] == message.sid
    assert received["MessageStatus"] == "delivered"
    assert fake_twilio.get(message.sid).status == "delivered"


def test_failed_status_callback_carries_error_code(fake_twilio, create_webhook_app, sent_message):
    app = create_webhook_app()
    message = sent_message(f"http://localhost{STATUS_PATH}")

    _, params, signature = fake_twilio.build_status_callback(message.sid, "undelivered", 30003)
    response = app.test_client().post(
        STATUS_PATH, data=params, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 204
    assert app.received[0]["ErrorCode"] == "30003"


def test_tampered_parameters_are_refused(fake_twilio, create_webhook_app, sent_message):
    app = create_webhook_app()
    message = sent_message(f"http://localhost{STATUS_PATH}")

    _, params, signature = fake_twilio.build_status_callback(message.sid, "failed")
    params["MessageStatus"] = "delivered"
    response = app.test_client().post(
        STATUS_PATH, data=params, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 403


def test_missing_signature_is_refused(fake_twilio, create_webhook_app, sent_message):
    app = create_webhook_app()
    message = sent_message(f"http://localhost{STATUS_PATH}")

    _, params, _ = fake_twilio.build_status_callback(message.sid, "delivered")
    response = app.test_client().post(STATUS_PATH, data=params)

    assert response.status_code == 403


def test_signature_with_another_auth_token_is_refused(
    fake_twilio, create_webhook_app, sent_message
):
    app = create_webhook_app()
    message = sent_message(f"http://localhost{STATUS_PATH}")

    _, params, signature = fake_twilio.build_status_callback(
        message.sid, "delivered", auth_token="someone-elses-token"
    )
    response = app.test_client().post(
        STATUS_PATH, data=params, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 403


def test_signature_for_another_url_is_refused(fake_twilio, create_webhook_app):
    app = create_webhook_app()

    params, signature = fake_twilio.build_inbound(
        "+46701740606", "OK", url=f"http://localhost{STATUS_PATH}"
    )
    response = app.test_client().post(
        INBOUND_PATH, data=params, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 403


def test_public_base_url_is_used_behind_a_tls_proxy(fake_twilio, create_webhook_app, sent_message):
    # Twilio requested https://crisis.example.se/..., the app sees http://127.0.0.1:8000/...
    message = sent_message(f"{PUBLIC}{STATUS_PATH}")
    _, params, signature = fake_twilio.build_status_callback(message.sid, "delivered")
    headers = {"X-Twilio-Signature": signature}

    behind_proxy = create_webhook_app(public_base_url=PUBLIC)
    naive = create_webhook_app(public_base_url=None)

    client_kwargs = {"data": params, "headers": headers, "base_url": "http://127.0.0.1:8000"}
    assert behind_proxy.test_client().post(STATUS_PATH, **client_kwargs).status_code == 204
    assert naive.test_client().post(STATUS_PATH, **client_kwargs).status_code == 403


def test_public_base_url_keeps_the_query_string(fake_twilio, create_webhook_app, sent_message):
    callback = f"{PUBLIC}{STATUS_PATH}?message=17&attempt=2"
    message = sent_message(callback)
    _, params, signature = fake_twilio.build_status_callback(message.sid, "sent")

    app = create_webhook_app(public_base_url=PUBLIC + "/")
    response = app.test_client().post(
        f"{STATUS_PATH}?message=17&attempt=2",
        data=params,
        headers={"X-Twilio-Signature": signature},
        base_url="http://127.0.0.1:8000",
    )

    assert response.status_code == 204


def test_proxy_fix_headers_work_without_public_base_url(fake_twilio, create_webhook_app):
    params, signature = fake_twilio.build_inbound(
        "+46701740606", "OK", url=f"{PUBLIC}{INBOUND_PATH}"
    )

    app = create_webhook_app(proxy_fix=True)
    response = app.test_client().post(
        INBOUND_PATH,
        data=params,
        headers={
            "X-Twilio-Signature": signature,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "crisis.example.se",
        },
        base_url="http://127.0.0.1:8000",
    )

    assert response.status_code == 204


def test_inbound_sms_signed_by_fake_is_accepted(fake_twilio, create_webhook_app):
    fake_twilio.inbound_url = f"http://localhost{INBOUND_PATH}"
    app = create_webhook_app()

    params, signature = fake_twilio.build_inbound("+46701740606", "ok K-17")
    response = app.test_client().post(
        INBOUND_PATH, data=params, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 204
    [received] = app.received
    assert received["From"] == "+46701740606"
    assert received["To"] == fake_twilio.phone_number
    assert received["Body"] == "ok K-17"
    assert received["MessageSid"].startswith("SM")


def test_public_request_url_keeps_percent_encoding_as_on_the_wire():
    app = Flask(__name__)
    path = "/webhooks/twilio/status/%C3%A5?a=1&b=%C3%A5"
    with app.test_request_context(path, base_url="http://x:1"):
        assert public_request_url(request, PUBLIC) == PUBLIC + path
        assert public_request_url(request) == "http://x:1" + path


def test_live_callbacks_over_http_reach_a_running_app(
    fake_twilio, create_webhook_app, create_twilio_gateway
):
    """The fake POSTs signed webhooks over real HTTP, as Twilio does."""
    app = create_webhook_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        result = create_twilio_gateway().send(
            SendRequest(
                to="+46701740606",
                body="Larm K-17",
                status_callback=base + STATUS_PATH,
                idempotency_key="m-1",
            )
        )

        delivered = fake_twilio.send_status_callback(result.provider_id, "delivered")
        forged = fake_twilio.send_status_callback(
            result.provider_id, "delivered", auth_token="wrong"
        )
        reply = fake_twilio.send_inbound("+46701740606", "JA", url=base + INBOUND_PATH)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert delivered.status_code == 204
    assert forged.status_code == 403
    assert reply.status_code == 204
    assert [r.get("MessageStatus") or r.get("Body") for r in app.received] == ["delivered", "JA"]
