"""The write side of accounts: users, roles, tokens, logins."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from crisis.auth.models import ApiToken, Availability, Role, User, UserRole
from crisis.auth.passwords import hash_password, needs_rehash, verify_password
from crisis.core.db import utcnow
from crisis.timeline.services import record_event

TOKEN_PREFIX = "crs_"
# Issue 12: a token without an asked-for lifetime expires after 90 days.
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """Input that cannot make a valid account; the message says what to fix."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
        raise AccountError(_l("%(email)s is not an e-mail address.", email=repr(email)))
    return email


def normalise_phone(phone: str | None) -> str | None:
    """E.164, assuming Sweden for national numbers (070-123 45 67)."""
    if phone is None or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, "SE")
    except phonenumbers.NumberParseException as exc:
        raise AccountError(_l("The phone number could not be read; write it as +46701234567.")) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise AccountError(_l("The phone number is not valid; write it as +46701234567."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_roles(roles: list[str] | tuple[str, ...]) -> list[Role]:
    parsed = []
    for role in roles:
        try:
            parsed.append(Role(role.strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise AccountError(_l("Unknown role %(role)s; use one of: %(known)s.", role=repr(role), known=known)) from None
    if not parsed:
        raise AccountError(_l("Give the user at least one role."))
    return parsed


def create_user(
    session: Session,
    *,
    email: str,
    roles: list[str],
    name: str | None = None,
    password: str | None = None,
    phone: str | None = None,
    district_id: int | None = None,
    language: str = "sv",
) -> User:
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(_l("A user with e-mail %(email)s already exists.", email=email))
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_l("The password must have at least %(num)s characters.", num=MIN_PASSWORD_LENGTH))
    user = User(
        email=email,
        name=(name or email.split("@")[0]).strip(),
        phone=normalise_phone(phone),
        password_hash=hash_password(password) if password else None,
        district_id=district_id,
        language=language if language in ("sv", "en") else "sv",
    )
    user.role_rows = [UserRole(role=r) for r in dict.fromkeys(parse_roles(roles))]
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_l("The password must have at least %(num)s characters.", num=MIN_PASSWORD_LENGTH))
    user.password_hash = hash_password(password)
    user.session_generation += 1


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same timing either way)."""
    try:
        email = normalise_email(email)
    except AccountError:
        email = ""
    user = session.scalar(select(User).where(User.email == email)) if email else None
    ok = verify_password(user.password_hash if user else None, password)
    if not (ok and user and user.active):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def deactivate_user(session: Session, user: User, actor=None) -> None:
    """Deactivate and end every session and socket of `user`."""
    user.active = False
    user.session_generation += 1
    record_event(session, kind="staff", type="user.deactivated", actor=actor,
                 subject=user, summary=f"Staff account {user.id} deactivated",
                 data={"user_id": user.id})


def set_availability(session: Session, user: User, availability: Availability) -> None:
    before = user.availability
    if before == availability:
        return
    user.availability = availability
    record_event(session, kind="staff", type="user.availability_changed", actor=user, subject=user,
                 summary=f"Staff {user.id} is {availability.value}",
                 data={"user_id": user.id, "before": before.value, "after": availability.value})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: ApiToken


def create_token(
    session: Session, user: User, name: str = "", valid_for: timedelta | None = None
) -> IssuedToken:
    """A new token; it expires after `valid_for` (90 days unless a lifetime is asked for)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_token_hash(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        expires_at=utcnow() + (valid_for or DEFAULT_TOKEN_LIFETIME),
    )
    session.add(record)
    session.flush()
    return IssuedToken(token=token, record=record)


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    # The token, its user and the user's roles in one statement (every API request asks).
    record = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token))
        .options(joinedload(ApiToken.user).joinedload(User.role_rows))
    ).unique().first()
    now = now or utcnow()
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if not record.user.active:
        return None
    # Write at most once a minute: a busy client must not turn reads into writes.
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
        record.last_used_at = now
        session.commit()
    return record.user


def revoke_token(record: ApiToken) -> None:
    record.revoked_at = utcnow()
