"""Two-factor enrolment as a person meets it (issue 18): a QR code, a way out, forgiving digits."""

from __future__ import annotations

import re

import pyotp

from crisis.auth import twofactor
from crisis.core.security import CSP
from tests.conftest import csrf_token
from tests.security.test_two_factor import SECRET_ON_PAGE, enrol_step, fresh, password_step


def test_enrolment_shows_the_key_as_an_inline_svg_qr_code_the_csp_allows(client, create_user):
    user = create_user("coordinator", totp=False)
    password_step(client, user.email)
    response = client.get("/login/enrol")
    page = response.get_data(as_text=True)
    svg = re.search(r'<div class="qr-code">(<svg .*?</svg>)</div>', page, re.S)
    assert svg is not None
    # Inline: no image request, no inline style or script for the CSP to block.
    assert "style=" not in svg.group(1) and "<script" not in svg.group(1) and "<img" not in svg.group(1)
    assert response.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_enrolment_offers_a_way_to_log_out(client, create_user):
    user = create_user("manager", totp=False)
    password_step(client, user.email)
    page = client.get("/login/enrol").get_data(as_text=True)
    assert 'action="/logout"' in page
    out = client.post("/logout", data={"csrf_token": csrf_token(client, "/login/enrol")})
    assert out.status_code == 302
    assert client.get("/login/enrol").headers["Location"].startswith("/login")


def test_full_width_and_spaced_digits_are_read_as_the_code(client, create_user):
    user = create_user("coordinator", totp=False)
    password_step(client, user.email)
    secret = SECRET_ON_PAGE.search(client.get("/login/enrol").get_data(as_text=True)).group(1).replace(" ", "")
    code = pyotp.TOTP(secret).now()
    full_width = " ".join(chr(0xFF10 + int(d)) for d in code)  # "１ ２ ３ ..." from an East Asian keyboard
    response = enrol_step(client, full_width)
    assert response.status_code == 200
    assert fresh(user).totp_secret is not None


def test_odd_unicode_in_a_code_is_a_wrong_code_not_an_error(client, create_user):
    user = create_user("coordinator", totp=False)
    password_step(client, user.email)
    client.get("/login/enrol")
    for code in ("１２３４５Ⅵ", "١٢٣٤٥٦", "12 34 5é", "𝟏𝟐𝟑𝟒𝟓𝟔"):
        assert enrol_step(client, code).status_code in (400, 401, 422)


def test_normalise_code_maps_any_decimal_digits_to_ascii():
    assert twofactor.normalise_code("１２３ ４５６") == "123456"
    assert twofactor.normalise_code("١٢٣-٤٥٦") == "123456"
    assert twofactor.normalise_code(" 123 456 ") == "123456"
