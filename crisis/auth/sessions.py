"""Server-side session records (issue 14, finding 1).

A browser session is valid only while its row in `auth_sessions` is: the
signed cookie carries a random key (`SESSION_KEY`), the database keeps its
SHA-256. Ending the row ends the session everywhere the cookie was copied to:

- logout ends this row;
- "sign out everywhere", deactivation, a new password or a removed second
  factor bump `users.session_generation`, and a row made under an older
  generation is refused (and ended) at its next use;
- the idle timeout is measured from the row's `last_seen_at`, on the server;
- `end_user_sessions` ends every row of a user at once.

The two-factor step has its own row (stage "pending") holding the count of
wrong codes, so replaying an older cookie does not reset it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from crisis.auth.models import AuthSession, User
from crisis.core.db import utcnow

SESSION_KEY = "sid"  # the key of the active session record, in the signed cookie
PENDING_KEY = "psid"  # the key of the pending (two-factor step) record
ACTIVE = "active"
PENDING = "pending"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def open_record(session: Session, user: User, stage: str = ACTIVE) -> str:
    """A new record for `user`; returns the key for the cookie (never stored)."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AuthSession(key_hash=_hash(key), user_id=user.id, generation=user.session_generation,
                            stage=stage, failed_codes=0, created_at=now, last_seen_at=now))
    session.flush()
    return key


def find_record(session: Session, key: object, stage: str = ACTIVE) -> AuthSession | None:
    """The open record with this key and stage, or None."""
    if not isinstance(key, str) or not key:
        return None
    record = session.scalar(select(AuthSession).where(AuthSession.key_hash == _hash(key)))
    if record is None or record.ended_at is not None or record.stage != stage:
        return None
    return record


def find_record_with_user(session: Session, key: object,
                          stage: str = ACTIVE) -> tuple[AuthSession | None, User | None]:
    """`find_record` and the record's user with their roles, in one statement (every page asks)."""
    if not isinstance(key, str) or not key:
        return None, None
    row = session.execute(
        select(AuthSession, User).outerjoin(User, User.id == AuthSession.user_id)
        .where(AuthSession.key_hash == _hash(key)).options(joinedload(User.role_rows))
    ).unique().first()
    if row is None:
        return None, None
    record, user = row
    if record.ended_at is not None or record.stage != stage:
        return None, None
    return record, user


def is_current(record: AuthSession, user: User | None) -> bool:
    return user is not None and user.active and user.id == record.user_id \
        and user.session_generation == record.generation


def end_record(session: Session, record: AuthSession | None, reason: str) -> None:
    if record is not None and record.ended_at is None:
        record.ended_at = utcnow()
        record.ended_reason = reason[:20]


def end_by_key(session: Session, key: object, reason: str, stage: str = ACTIVE) -> None:
    end_record(session, find_record(session, key, stage), reason)


def end_user_sessions(session: Session, user_id: int, reason: str = "signed_out") -> int:
    """End every open record of a user (sign out everywhere, deactivation); returns how many."""
    result = session.execute(
        update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason[:20]).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def idle_for(record: AuthSession, now: datetime) -> timedelta:
    return now - record.last_seen_at


def touch(record: AuthSession, now: datetime, idle: timedelta) -> None:
    """Note activity; written at most every tenth of the idle time (and at most twice a minute)."""
    if now - record.last_seen_at >= min(idle / 10, timedelta(seconds=30)):
        record.last_seen_at = now


def count_wrong_code(session: Session, record: AuthSession) -> int:
    """Add one wrong code to the pending record (in one statement); returns the new count."""
    session.execute(
        update(AuthSession).where(AuthSession.id == record.id)
        .values(failed_codes=AuthSession.failed_codes + 1).execution_options(synchronize_session=False)
    )
    session.refresh(record)
    return record.failed_codes
