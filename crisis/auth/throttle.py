"""Progressive delays after wrong passwords, per account and per address (issue 14, finding 11).

A hard lock (30 wrong passwords locked an account for an hour) lets an
attacker lock a coordinator out in the middle of a crisis. Instead, after
`FREE_FAILURES` wrong passwords the next attempt must wait, doubling with
each further failure: for an account at most `ACCOUNT_CAP` (a coordinator
waits a minute at worst, and the second factor guards what gets through),
for an address at most `ADDRESS_CAP` (the guesser's own address slows down
most). While a wait runs, the password is not even checked. A right
password clears the account's count; an hour without failures forgets it.
An admin clears a count at once with `crisis users unlock EMAIL`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import delete
from sqlalchemy.orm import Session

from crisis.auth.models import LoginThrottle
from crisis.core.db import utcnow

FREE_FAILURES = 5
ACCOUNT_CAP = timedelta(seconds=60)
ADDRESS_CAP = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def keys(email: str, address: str | None) -> dict[str, tuple[str, timedelta]]:
    return {"account": (_key("account", (email or "").strip().lower()), ACCOUNT_CAP),
            "address": (_key("address", address or "unknown"), ADDRESS_CAP)}


def delay_after(failures: int, cap: timedelta) -> timedelta:
    if failures <= FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES - 1, 20)), cap)


def seconds_to_wait(session: Session, email: str, address: str | None, now: datetime | None = None) -> int:
    now = now or utcnow()
    wait = timedelta(0)
    for key, _cap in keys(email, address).values():
        row = session.get(LoginThrottle, key)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            wait = max(wait, row.blocked_until - now)
    return int(wait.total_seconds() + 0.999)


def record_failure(session: Session, email: str, address: str | None, now: datetime | None = None) -> None:
    now = now or utcnow()
    for key, cap in keys(email, address).values():
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, last_failure_at=now)
            session.add(row)
        elif now - row.last_failure_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        delay = delay_after(row.failures, cap)
        row.blocked_until = now + delay if delay else None


def record_success(session: Session, email: str) -> None:
    """A right password: the account's count is cleared (the address's is not: it may be guessing others)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == _key("account", (email or "").strip().lower())))


def unlock(session: Session, email: str, address: str | None = None) -> int:
    """Clear the count of an account (and of an address): the admin unlock."""
    wanted = [_key("account", email.strip().lower())] + ([_key("address", address)] if address else [])
    return session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(wanted))).rowcount or 0


@click.command("unlock")
@click.argument("email")
@click.option("--address", default=None, help="Also clear this IP address's count.")
@with_appcontext
def unlock_command(email: str, address: str | None) -> None:
    """Let EMAIL log in again at once after wrong passwords (the admin unlock)."""
    from sqlalchemy import select

    from crisis.auth.models import User
    from crisis.core.db import db
    from crisis.timeline.services import record_event

    cleared = unlock(db.session, email, address)
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is not None:
        record_event(db.session, kind="staff", type="user.login_unlocked", actor="admin-cli", subject=user,
                     summary=f"Login delays of staff {user.id} cleared",
                     data={"user_id": user.id, "address_cleared": bool(address)})
    db.session.commit()
    click.echo(f"Cleared {cleared} count(s) of wrong passwords; {email} can log in now.")
