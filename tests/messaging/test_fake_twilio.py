"""The fake Twilio itself: HTTP shapes, scripting and kept-alive connections, spoken to without the SDK;
and the same fake in a process of its own (the benchmarks), through it."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time

import pytest
import requests

from crisis.messaging.gateway import SendRequest, gateway_from_config
from tests.fake_twilio import FakeTwilio, FakeTwilioProcess


@pytest.fixture
def create_message(fake_twilio):
    """Factory: POST a message to the fake with plain requests."""

    def create(auth=None, **form):
        data = {"To": "+46701740606", "From": fake_twilio.phone_number, "Body": "hej"}
        data.update(form)
        return requests.post(
            f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json",
            data={k: v for k, v in data.items() if v is not None},
            auth=auth or (fake_twilio.account_sid, fake_twilio.auth_token),
            timeout=5,
        )

    return create


def test_create_returns_twilio_message_resource(fake_twilio, create_message):
    response = create_message()

    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["status"] == "queued"
    assert body["account_sid"] == fake_twilio.account_sid
    assert body["to"] == "+46701740606"
    assert body["from"] == fake_twilio.phone_number
    assert body["direction"] == "outbound-api"
    assert body["error_code"] is None
    assert (
        body["uri"] == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/{body['sid']}.json"
    )
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", body["date_created"])


def test_fetch_returns_the_message_and_its_later_status(fake_twilio, create_message):
    sid = create_message().json()["sid"]
    fake_twilio.set_status(sid, "delivered")
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    url = f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages"

    found = requests.get(f"{url}/{sid}.json", auth=auth, timeout=5)
    missing = requests.get(f"{url}/SM{'0' * 32}.json", auth=auth, timeout=5)

    assert found.status_code == 200
    assert found.json()["status"] == "delivered"
    assert missing.status_code == 404
    assert missing.json()["code"] == 20404


def test_wrong_or_missing_credentials_get_401(fake_twilio, create_message):
    wrong = create_message(auth=(fake_twilio.account_sid, "nope"))
    anonymous = requests.post(
        f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json",
        data={"To": "+46701740606", "Body": "x"},
        timeout=5,
    )

    for response in (wrong, anonymous):
        assert response.status_code == 401
        assert response.json()["code"] == 20003
    assert fake_twilio.messages == []


def test_errors_use_twilios_error_body(fake_twilio, create_message):
    fake_twilio.rate_limit_next()

    response = create_message()

    assert response.status_code == 429
    assert response.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": None}, 21604),
        ({"From": None}, 21603),
        ({"From": "+46700000000"}, 21606),
        ({"Body": None}, 21602),
        ({"To": "070-1740606"}, 21211),
    ],
)
def test_invalid_requests_get_twilio_codes(create_message, form, code):
    response = create_message(**form)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_requests_are_recorded_including_refused_ones(fake_twilio, create_message):
    fake_twilio.server_error_next(2)

    statuses = [create_message().status_code for _ in range(3)]

    assert statuses == [500, 500, 201]
    assert [r.status for r in fake_twilio.api_requests] == [500, 500, 201]
    assert len(fake_twilio.messages) == 1


def test_reset_forgets_messages_and_scripts(fake_twilio, create_message):
    create_message()
    fake_twilio.fail_next("+46701740606")
    fake_twilio.reset()

    assert fake_twilio.messages == []
    assert create_message().status_code == 201


def test_status_callback_needs_a_url(fake_twilio, create_message):
    sid = create_message().json()["sid"]
    with pytest.raises(ValueError, match="StatusCallback"):
        fake_twilio.build_status_callback(sid, "delivered")


def test_build_inbound_needs_a_url(fake_twilio):
    with pytest.raises(ValueError, match="inbound"):
        fake_twilio.build_inbound("+46701740606", "OK")


def test_start_stop_and_context_manager_free_the_port():
    fake = FakeTwilio().start()
    port = fake.port
    assert fake.base_url == f"http://127.0.0.1:{port}"
    fake.stop()
    with pytest.raises(RuntimeError):
        fake.base_url  # noqa: B018 - property raises when stopped
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_a_connection_is_kept_alive_between_requests_as_twilio_keeps_it(fake_twilio):
    connection = http.client.HTTPConnection("127.0.0.1", fake_twilio.port, timeout=5)
    path = f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    auth = base64.b64encode(f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"}
    sockets = []
    try:
        for to in ("+46701740606", "+46701740607"):
            body = f"To={to.replace('+', '%2B')}&From={fake_twilio.phone_number.replace('+', '%2B')}&Body=hej"
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            assert response.status == 201
            json.loads(response.read())
            assert not response.will_close
            sockets.append(connection.sock)
    finally:
        connection.close()

    assert sockets[0] is sockets[1] is not None  # the second request went over the first one's connection
    assert sorted(m.to for m in fake_twilio.messages) == ["+46701740606", "+46701740607"]


def test_a_stopped_fake_answers_nothing_even_on_a_kept_alive_connection():
    fake = FakeTwilio().start()
    session = requests.Session()
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    form = {"To": "+46701740606", "From": fake.phone_number, "Body": "hej"}
    auth = (fake.account_sid, fake.auth_token)
    assert session.post(url, data=form, auth=auth, timeout=5).status_code == 201

    fake.stop()

    with pytest.raises(requests.ConnectionError):
        session.post(url, data=form, auth=auth, timeout=5)


@pytest.mark.slow
def test_the_fake_in_a_process_of_its_own_takes_texts_from_the_sdk():
    with FakeTwilioProcess() as fake:
        gateway = gateway_from_config(fake.gateway_config())
        fake.latency_s = 0.2
        started = time.monotonic()
        result = gateway.send(SendRequest(to="+46701740606", body="Larm K-1"))
        assert time.monotonic() - started >= 0.2
        fake.latency_s = 0
        gateway.send(SendRequest(to="+46701740607", body="Larm K-2"))

        [first, second] = fake.messages
        assert (first.sid, first.to, first.body, first.status) == (result.provider_id, "+46701740606", "Larm K-1",
                                                                   "queued")
        assert second.to == "+46701740607" and first.date_created <= second.date_created
        assert fake.cpu_seconds() > 0
        fake.reset()
        assert fake.messages == []
        port = int(fake.base_url.rsplit(":", 1)[1])

    assert fake._process is None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
