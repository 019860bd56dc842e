"""The write side of staff administration (issue 12).

Every change writes its rows and a timeline event (kind "staff") in the
caller's transaction. Events carry ids and enum keys only, never names,
e-mail addresses or phone numbers.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crisis.auth.models import ApiToken, Role, User, UserRole
from crisis.auth.passwords import verify_password
from crisis.auth.services import (
    AccountError,
    create_user,
    deactivate_user,
    normalise_phone,
    parse_roles,
    set_password,
)
from crisis.core.db import utcnow
from crisis.core.signals import sessions_ended
from crisis.organisation.models import District, Team, TeamMember
from crisis.staff.models import AccountLink
from crisis.timeline.services import record_event

LINK_VALIDITY = timedelta(hours=24)
LINK_PURPOSES = ("invite", "reset")


class StaffError(AccountError):
    """An administrative change that cannot be made; the message says why."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_url(path: str) -> str:
    base = (current_app.config.get("PUBLIC_BASE_URL") or "") if has_app_context() else ""
    return base.rstrip("/") + path


# -- sessions ------------------------------------------------------------------------------


def end_all_sessions(session: Session, user: User, actor=None, *, reason: str = "sign_out_everywhere") -> None:
    """End every session of `user` (the cookie carries the old generation; sockets close after commit).

    The one place that ends sessions, so that server-side session records can be
    removed here too.
    """
    user.session_generation += 1
    record_event(session, kind="staff", type="user.sessions_ended", actor=actor or user, subject=user,
                 summary=f"Every session of staff {user.id} ended",
                 data={"user_id": user.id, "reason": reason})


def announce_sessions_ended(user_id: int) -> None:
    """Announce that the user's sessions ended (call after commit): crisis.core.signals.sessions_ended,
    on which the live dashboard closes the user's sockets in every web process."""
    sessions_ended.send(user_id, user_id=user_id)


# -- one-time links -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedLink:
    token: str
    url: str
    record: AccountLink


def issue_link(session: Session, user: User, purpose: str, actor, now: datetime | None = None) -> IssuedLink:
    """A one-time link valid for 24 hours; earlier unused links of the same purpose stop working."""
    if purpose not in LINK_PURPOSES:
        raise ValueError(purpose)
    now = now or utcnow()
    session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == user.id, AccountLink.used_at.is_(None), AccountLink.expires_at > now)
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(32)
    record = AccountLink(user_id=user.id, purpose=purpose, token_hash=_hash(token),
                         created_by_id=getattr(actor, "id", None), created_at=now, expires_at=now + LINK_VALIDITY)
    session.add(record)
    session.flush()
    return IssuedLink(token, public_url(f"/account/link/{token}"), record)


def find_link(session: Session, token: str) -> AccountLink | None:
    if not token or len(token) > 100:
        return None
    return session.scalar(select(AccountLink).where(AccountLink.token_hash == _hash(token)))


def link_state(link: AccountLink | None, now: datetime | None = None) -> str:
    """valid, used, expired or unknown."""
    now = now or utcnow()
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if link.expires_at <= now or not link.user.active:
        return "expired"
    return "valid"


def use_link(session: Session, token: str, password: str, now: datetime | None = None) -> User:
    """Set the password from a one-time link; the link is then spent."""
    now = now or utcnow()
    link = find_link(session, token)
    state = link_state(link, now)
    if state != "valid":
        raise StaffError({"used": _l("This link has already been used."),
                          "expired": _l("This link has expired."),
                          "unknown": _l("This link is not valid.")}[state])
    set_password(link.user, password)
    taken = session.execute(
        update(AccountLink).where(AccountLink.id == link.id, AccountLink.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if not taken:
        raise StaffError(_l("This link has already been used."))
    record_event(session, kind="staff", type="user.password_set", actor=link.user, subject=link.user,
                 summary=f"Staff {link.user.id} set a password from a one-time link",
                 data={"user_id": link.user.id, "via": link.purpose})
    return link.user


# -- administration --------------------------------------------------------------------------


def _active_admin_count(session: Session) -> int:
    return session.scalar(
        select(func.count(User.id)).join(UserRole).where(UserRole.role == Role.ADMIN, User.active.is_(True))
    ) or 0


def _check_not_last_admin(session: Session, user: User) -> None:
    if user.active and user.has_role(Role.ADMIN) and _active_admin_count(session) <= 1:
        raise StaffError(_l("This is the last active administrator; make someone else administrator first."))


def _district_id(session: Session, district) -> int | None:
    if district in (None, ""):
        return None
    if isinstance(district, int) or (isinstance(district, str) and district.isdigit()):
        found = session.get(District, int(district))
    else:
        found = session.scalar(select(District).where(District.code == district))
    if found is None:
        raise StaffError(_l("No district %(district)s.", district=repr(district)))
    return found.id


def invite_user(session: Session, *, actor, email: str, roles: list[str], name: str | None = None,
                phone: str | None = None, district=None, language: str = "sv",
                send_sms: bool = False) -> tuple[User, IssuedLink]:
    """A new account without a password and a one-time link to choose one (24 h)."""
    if language not in ("sv", "en"):
        raise StaffError(_l("language must be sv or en."))
    user = create_user(session, email=email, roles=roles, name=name, phone=phone,
                       district_id=_district_id(session, district), language=language)
    link = issue_link(session, user, "invite", actor)
    sent = False
    if send_sms:
        if not user.phone:
            raise StaffError(_l("The invitation cannot be sent by SMS without a mobile number."))
        from crisis.messaging.services import SmsRefused, queue_sms

        body = {"sv": "Krisstöd: du har fått ett konto. Välj lösenord inom 24 timmar: {link}",
                "en": "Crisis support: you have an account. Choose a password within 24 hours: {link}"}
        try:
            queue_sms(session, to=user.phone, body=body[user.language].format(link=link.url), purpose="invite",
                      language=user.language, recipient_user_id=user.id, validity=LINK_VALIDITY,
                      idempotency_key=f"invite:{link.record.id}")
            sent = True
        except SmsRefused as refused:
            raise StaffError(str(refused)) from None
    record_event(session, kind="staff", type="user.invited", actor=actor, subject=user,
                 summary=f"Staff {user.id} invited",
                 data={"user_id": user.id, "roles": sorted(r.value for r in user.roles),
                       "district_id": user.district_id, "sent_by_sms": sent})
    return user, link


def update_user(session: Session, user: User, *, actor, roles: list[str] | None = None, district=...,
                phone=..., language: str | None = None, name: str | None = None) -> list[str]:
    """Change roles, district, phone, language or name; returns the fields changed."""
    changed = []
    if roles is not None:
        wanted = list(dict.fromkeys(parse_roles(roles)))
        if set(wanted) != set(user.roles):
            if Role.ADMIN in user.roles and Role.ADMIN not in wanted:
                _check_not_last_admin(session, user)
            user.role_rows = [UserRole(role=r) for r in wanted]
            changed.append("roles")
    if district is not ...:
        district_id = _district_id(session, district)
        if district_id != user.district_id:
            user.district_id = district_id
            changed.append("district")
    if phone is not ...:
        number = normalise_phone(phone)
        if number != user.phone:
            user.phone = number
            changed.append("phone")
    if language is not None and language != user.language:
        if language not in ("sv", "en"):
            raise StaffError(_l("language must be sv or en."))
        user.language = language
        changed.append("language")
    if name is not None and name.strip() and name.strip() != user.name:
        user.name = name.strip()[:200]
        changed.append("name")
    if changed:
        session.flush()
        record_event(session, kind="staff", type="user.updated", actor=actor, subject=user,
                     summary=f"Staff {user.id} changed ({', '.join(changed)})",
                     data={"user_id": user.id, "changed": changed,
                           "roles": sorted(r.value for r in user.roles), "district_id": user.district_id,
                           "language": user.language})
    return changed


def deactivate(session: Session, user: User, *, actor) -> None:
    """Deactivate: sessions, sockets (after commit) and API tokens end. The last admin stays."""
    if not user.active:
        raise StaffError(_l("The account is already deactivated."))
    _check_not_last_admin(session, user)
    now = utcnow()
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    deactivate_user(session, user, actor=actor)


def reactivate(session: Session, user: User, *, actor) -> None:
    if user.active:
        raise StaffError(_l("The account is already active."))
    user.active = True
    record_event(session, kind="staff", type="user.reactivated", actor=actor, subject=user,
                 summary=f"Staff account {user.id} reactivated", data={"user_id": user.id})


def reset_password(session: Session, user: User, *, actor) -> IssuedLink:
    """The old password stops working and every session ends; a one-time link sets a new one."""
    if not user.active:
        raise StaffError(_l("Reactivate the account before resetting its password."))
    user.password_hash = None
    link = issue_link(session, user, "reset", actor)
    end_all_sessions(session, user, actor, reason="password_reset")
    record_event(session, kind="staff", type="user.password_reset", actor=actor, subject=user,
                 summary=f"Password of staff {user.id} reset", data={"user_id": user.id})
    return link


def reset_two_factor(session: Session, user: User, *, actor) -> None:
    from crisis.auth.twofactor import remove_two_factor

    remove_two_factor(session, user, actor=actor, reason="admin reset")


def change_own_password(session: Session, user: User, *, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current or ""):
        raise StaffError(_l("The current password is wrong."))
    if new == current:
        raise StaffError(_l("Choose a new password that differs from the current one."))
    set_password(user, new)
    record_event(session, kind="staff", type="user.password_changed", actor=user, subject=user,
                 summary=f"Staff {user.id} changed their password", data={"user_id": user.id})


def set_team_members(session: Session, team: Team, user_ids: list[int], *, actor) -> bool:
    """The team's members in their alert order (first = first alerted after the on-call person)."""
    ids = list(dict.fromkeys(int(i) for i in user_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    missing = [i for i in ids if i not in users]
    if missing:
        raise StaffError(_l("No staff with id %(ids)s.", ids=", ".join(map(str, missing))))
    before = [m.user_id for m in sorted(team.members, key=lambda m: m.position)]
    if before == ids:
        return False
    team.members.clear()
    session.flush()
    for position, user_id in enumerate(ids, 1):
        team.members.append(TeamMember(user_id=user_id, position=position))
    session.flush()
    record_event(session, kind="staff", type="team.members_changed", actor=actor, subject=team,
                 summary=f"Members of team {team.id} changed",
                 data={"team_id": team.id, "before": before, "after": ids})
    return True


# -- tokens -----------------------------------------------------------------------------------


def tokens_of(session: Session, user: User, *, include_ended: bool = False) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    if not include_ended:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def token_json(token: ApiToken, now: datetime | None = None) -> dict:
    now = now or utcnow()
    return {
        "id": token.id, "user_id": token.user_id, "name": token.name, "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "active": token.revoked_at is None and (token.expires_at is None or token.expires_at > now),
    }


def revoke(session: Session, token: ApiToken, *, actor) -> bool:
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    record_event(session, kind="staff", type="token.revoked", actor=actor, subject=token,
                 summary=f"API token {token.id} of staff {token.user_id} revoked",
                 data={"token_id": token.id, "user_id": token.user_id})
    return True


def can_manage_token(user: User, token: ApiToken) -> bool:
    return token.user_id == user.id or user.has_role(Role.ADMIN)


def search_staff(session: Session, q: str | None = None, *, after: int | None = None, limit: int | None = None):
    query = select(User)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(func.lower(User.name).like(like) | User.email.like(like))
    if after:
        query = query.where(User.id > after)
    query = query.order_by(User.id)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))
