"""Two-factor authentication: TOTP (RFC 6238, pyotp) and one-time recovery codes (issue 9).

Coordinators, managers and admins must use a second factor
(`TOTP_REQUIRED_ROLES`); outreach staff may. The secret is created at
enrolment, shown once (as text and as an `otpauth://` URI for authenticator
apps) and confirmed with a first code before it is stored.

A code is accepted once: the user's `totp_last_counter` holds the time step
of the last accepted code and only moves forward, in one conditional UPDATE,
so a code seen over someone's shoulder, or sent twice at the same moment,
does not log anyone in again. One step of clock drift either way is allowed.

Recovery codes (ten, shown once) are stored as Argon2id hashes and each
works once; using one is recorded on the timeline so the owner and an admin
can see it.
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import click
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask.cli import with_appcontext
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crisis.auth.models import RecoveryCode, Role, User
from crisis.core.config import DEFAULT_TOTP_REQUIRED_ROLES
from crisis.core.db import utcnow
from crisis.timeline.services import record_event

ISSUER = "Krisstöd Stockholm"
#: Accepted drift: the code of the previous and of the next 30-second step too.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
# 31 letters and digits without look-alikes (0/o, 1/l/i); 10 of them are ~50 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10
_TOTP_CODE = re.compile(r"[0-9]{6}")
_RECOVERY_CODE = re.compile(f"[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}")

# Argon2id at OWASP's minimum (19 MiB, 2 passes): the codes are random with
# ~50 bits, so the password hasher's memory cost (crisis.auth.passwords) is
# not needed to slow guessing, and checking up to ten of them stays quick.
_code_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class TwoFactorError(ValueError):
    """A two-factor change that cannot be made; the message says why."""


# -- who needs it ------------------------------------------------------------------


def required_roles() -> frozenset[Role]:
    configured = (current_app.config.get("TOTP_REQUIRED_ROLES", DEFAULT_TOTP_REQUIRED_ROLES)
                  if has_app_context() else DEFAULT_TOTP_REQUIRED_ROLES)
    return frozenset(Role(r) for r in configured)


def is_required_for(user: User) -> bool:
    roles = required_roles()
    return bool(roles) and user.has_role(*roles)


def is_enrolled(user: User) -> bool:
    return user.totp_secret is not None


def needs_second_step(user: User) -> bool:
    """After the password: a code (enrolled users) or enrolment (users who must have it)."""
    return is_enrolled(user) or is_required_for(user)


# -- TOTP --------------------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def provisioning_uri(user: User, secret: str) -> str:
    """The `otpauth://` URI authenticator apps read (the account is the e-mail, never a name)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in blocks of four, easier to type into an app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str | None) -> str:
    """What was meant: full-width or other Unicode digits (a phone keyboard in another script)
    become ASCII, spaces and dashes go (issue 18: such codes gave a 500)."""
    text = unicodedata.normalize("NFKC", code or "")
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    return re.sub(r"[\s\-‐‑‒–—]", "", text).lower()


def matching_counter(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step whose code `code` is (within the drift window), or None."""
    code = normalise_code(code)
    if not _TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    for counter in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def verify_totp(session: Session, user: User, code: str, now: datetime | None = None) -> bool:
    """A right code not used before; the used time step is stored so it is never accepted again."""
    if user.totp_secret is None:
        return False
    counter = matching_counter(user.totp_secret, code, now)
    if counter is None:
        return False
    # Compare and set in one statement: of two requests with the same code, one wins.
    result = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_counter.is_(None), User.totp_last_counter < counter))
        .values(totp_last_counter=counter)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_counter", counter)
    return True


def confirm_enrolment(session: Session, user: User, secret: str, code: str,
                      now: datetime | None = None) -> list[str]:
    """Store `secret` once the user proved their app shows its codes; returns new recovery codes."""
    if is_enrolled(user):
        raise TwoFactorError("Two-factor authentication is already set up for this account.")
    counter = matching_counter(secret, code, now)
    if counter is None:
        raise TwoFactorError("The code does not match. Check the time on your phone and type the "
                             "newest six-digit code.")
    user.totp_secret = secret
    user.totp_last_counter = counter  # the confirming code cannot be used to log in again
    codes = issue_recovery_codes(session, user, record=False)
    record_event(session, kind="staff", type="user.two_factor_enrolled", actor=user, subject=user,
                 summary=f"Staff {user.id} set up two-factor authentication",
                 data={"user_id": user.id, "recovery_codes": len(codes)})
    return codes


def remove_two_factor(session: Session, user: User, *, actor, reason: str) -> None:
    """Forget the secret and the recovery codes (lost phone: an admin resets; the user enrols again).

    Every session of the user ends, so whoever held the old factor is out too.
    """
    user.totp_secret = None
    user.totp_last_counter = None
    user.session_generation += 1
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_event(session, kind="staff", type="user.two_factor_removed", actor=actor, subject=user,
                 summary=f"Two-factor authentication of staff {user.id} removed ({reason})",
                 data={"user_id": user.id, "reason": reason})


# -- recovery codes --------------------------------------------------------------------


def _new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def issue_recovery_codes(session: Session, user: User, *, record: bool = True) -> list[str]:
    """Ten new one-time codes (shown once, as `abcde-fghjk`); the old ones stop working."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hasher.hash(c)) for c in codes)
    session.flush()
    if record:
        record_event(session, kind="staff", type="user.recovery_codes_issued", actor=user, subject=user,
                     summary=f"Staff {user.id} made new recovery codes",
                     data={"user_id": user.id, "recovery_codes": len(codes)})
    return [display_code(c) for c in codes]


def use_recovery_code(session: Session, user: User, code: str) -> bool:
    """True if `code` is one of the user's unused codes; it is used up."""
    code = normalise_code(code)
    if not _RECOVERY_CODE.fullmatch(code):
        return False
    unused = session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .order_by(RecoveryCode.id)
    ).all()
    for row in unused:
        try:
            _code_hasher.verify(row.code_hash, code)
        except (VerificationError, InvalidHashError):
            continue
        # Used once: of two requests with the same code, one wins.
        used = session.execute(
            update(RecoveryCode).where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow()).execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:
            return False
        left = len(unused) - 1
        record_event(session, kind="staff", type="user.recovery_code_used", actor=user, subject=user,
                     summary=f"Staff {user.id} logged in with a recovery code ({left} left)",
                     data={"user_id": user.id, "left": left})
        return True
    return False


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


@dataclass(frozen=True)
class SecondFactor:
    """How a login's second step was passed: "totp" or "recovery"."""

    method: str


def verify_second_factor(session: Session, user: User, code: str) -> SecondFactor | None:
    """A six-digit code from the app, or else a recovery code."""
    if _TOTP_CODE.fullmatch(normalise_code(code)):
        return SecondFactor("totp") if verify_totp(session, user, code) else None
    return SecondFactor("recovery") if use_recovery_code(session, user, code) else None


# -- command line: an admin resets a lost factor ---------------------------------------------


@click.command("reset-2fa")
@click.argument("email")
@click.option("--reason", required=True, help="Why, for the timeline (e.g. 'lost phone, ticket 1234').")
@with_appcontext
def reset_two_factor_command(email: str, reason: str) -> None:
    """Remove EMAIL's two-factor setup; they set it up again at their next login."""
    from crisis.core.db import db

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.UsageError(f"No user with e-mail {email}.")
    remove_two_factor(db.session, user, actor="admin-cli", reason=reason[:120])
    db.session.commit()
    click.echo(f"Two-factor authentication removed for user {user.id}; every session of theirs has ended.")
