"""Finding 3 (issue 14): names and numbers stay out of URLs and logs.

A full response is scripted over real HTTP (werkzeug's server writes its access log), with the privacy
search by name and number, and an old bookmark that still carries them in its query string. Then the
captured access log and app log (what the product's log handler writes) are searched for every name and
number used."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote_plus

import pytest
import requests

from tests.conftest import CSRF_META
from tests.live.conftest import WAIT, session_cookie
from tests.security import scripted


@pytest.fixture
def captured_log():
    """A second handler with the product handler's filters and format: exactly what it writes."""
    root = logging.getLogger()
    product = next(h for h in root.handlers if getattr(h, "_crisis", False))
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(product.formatter)
    for log_filter in product.filters:
        capture.addFilter(log_filter)
    root.addHandler(capture)
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.INFO)
    yield stream
    werkzeug.setLevel(level)
    root.removeHandler(capture)


def http_sender(base_url: str):
    def send(method, path, *, token=None, json=None, form=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.request(method, base_url + path, headers=headers, json=json, data=form, timeout=WAIT)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    return send


def test_no_name_or_number_reaches_the_access_log_or_the_app_log(live_server, scripted_response, captured_log):
    scripted.run(scripted_response["make"](http_sender(live_server)))
    manager, _cookie = session_cookie(live_server, scripted_response["manager"].email)
    page = manager.get(f"{live_server}/privacy", timeout=WAIT).text
    token = CSRF_META.search(page).group(1)
    name = scripted.NAMES["relative"]
    # The search is a POST: the name and number travel in the body.
    for field, value in (("name", name), ("phone", scripted.PHONE), ("phone", "070-174 99 31")):
        found = manager.post(f"{live_server}/privacy", data={field: value, "csrf_token": token}, timeout=WAIT)
        assert found.status_code == 200 and "/export" in found.text
    # An old bookmark, and numbers typed into other query strings: logged, but masked.
    manager.get(f"{live_server}/privacy?name={quote_plus(name)}&phone={quote_plus(scripted.PHONE)}", timeout=WAIT)
    manager.get(f"{live_server}/access-log?q={quote_plus('070 174 99 31')}&user={quote_plus(name)}", timeout=WAIT)
    manager.get(f"{live_server}/sms?to=%2B46701749931", timeout=WAIT)
    logged = captured_log.getvalue()
    assert "/privacy" in logged and "/api/v1/incidents" in logged  # the access log was captured
    words = {w for n in scripted.NAMES.values() for w in n.split()}
    leaks = [w for w in words if w in logged or quote_plus(w) in logged]
    leaks += [p for p in scripted.PHONE_FORMS if p in logged] + (["701749931"] if "701749931" in logged else [])
    assert not leaks, [line for line in logged.splitlines() if any(leak in line for leak in leaks)][:5]
