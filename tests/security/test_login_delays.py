"""Finding 11 (issue 14): wrong passwords slow an account and an address down progressively instead of
locking the account for an hour, and an admin can unlock at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crisis.auth import throttle
from crisis.auth.models import LoginThrottle
from crisis.cli import main
from crisis.core.db import db
from crisis.timeline.models import TimelineEvent
from tests.conftest import csrf_token, login


def attempt(app, email: str, password: str, address: str):
    client = app.test_client()
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def let_time_pass(seconds: float) -> None:
    db.session.remove()
    for row in db.session.scalars(select(LoginThrottle)):
        row.last_failure_at -= timedelta(seconds=seconds)
        if row.blocked_until is not None:
            row.blocked_until -= timedelta(seconds=seconds)
    db.session.commit()


def test_an_attacker_cannot_lock_a_coordinator_out_for_long(app, create_user):
    user = create_user("outreach", totp=False)
    statuses = [attempt(app, user.email, f"wrong-{i}-password", f"198.51.100.{i}").status_code for i in range(40)]
    assert statuses[:6] == [401] * 6 and 429 in statuses[6:]
    # Waiting attempts are not even checked, so they do not add to the count.
    assert attempt(app, user.email, "correct horse battery", "10.9.9.9").status_code == 429
    let_time_pass(throttle.ACCOUNT_CAP.total_seconds())  # at most a minute, never an hour
    assert attempt(app, user.email, "correct horse battery", "10.9.9.9").status_code == 302


def test_delays_double_and_are_capped():
    assert throttle.delay_after(5, throttle.ACCOUNT_CAP) == timedelta(0)
    assert [throttle.delay_after(n, throttle.ADDRESS_CAP).total_seconds() for n in (6, 7, 8, 9)] == [1, 2, 4, 8]
    assert throttle.delay_after(1000, throttle.ACCOUNT_CAP) == throttle.ACCOUNT_CAP
    assert throttle.delay_after(1000, throttle.ADDRESS_CAP) == throttle.ADDRESS_CAP


def test_the_guessing_address_is_slowed_down_across_accounts(app, create_user):
    users = [create_user("outreach", totp=False) for _ in range(8)]
    statuses = [attempt(app, u.email, "wrong password!!", "203.0.113.5").status_code for u in users]
    assert statuses[:6] == [401] * 6 and statuses[6] == 429
    # Another address is not slowed down by it.
    assert attempt(app, users[7].email, "correct horse battery", "203.0.113.99").status_code == 302


def test_a_wait_answers_with_retry_after_and_says_what_to_do(app, create_user):
    user = create_user("outreach", totp=False)
    for i in range(6):
        attempt(app, user.email, f"wrong-{i}-password", "192.0.2.10")
    response = attempt(app, user.email, "wrong again!!", "192.0.2.10")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "Vänta" in response.get_data(as_text=True)


def test_an_admin_unlocks_an_account_at_once(app, client, create_user):
    user = create_user("outreach", totp=False)
    for i in range(12):
        attempt(app, user.email, f"wrong-{i}-password", f"198.51.100.{i}")
    assert attempt(app, user.email, "correct horse battery", "10.1.1.1").status_code == 429
    result = app.test_cli_runner().invoke(main, ["users", "unlock", user.email])
    assert result.exit_code == 0, result.output
    assert login(client, user.email).status_code == 302
    db.session.remove()
    # The unlock is on the timeline.
    assert db.session.scalar(select(TimelineEvent.type).where(TimelineEvent.type == "user.login_unlocked"))
