"""Each user's read-only iCalendar feed of their own on-call shifts, at a secret revocable URL.

The URL carries the user id and an HMAC of it with a random salt stored on
the user; a new salt (or none) revokes every earlier URL. The feed carries
shifts and team names only: no incident, relative or address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.core.db import utcnow
from crisis.timeline.services import record_event

FEED_DAYS = 60


def _signature(user: User) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"calendar:{user.id}:{user.calendar_salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def feed_token(user: User) -> str | None:
    return f"{user.id}-{_signature(user)}" if user.calendar_salt else None


def feed_url(user: User) -> str | None:
    token = feed_token(user)
    if token is None:
        return None
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return f"{base}/calendar/{token}.ics"


def user_for_feed(session: Session, token: str) -> User | None:
    user_id, _, signature = (token or "").partition("-")
    if not user_id.isdigit() or not signature or len(token) > 80:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or not user.calendar_salt:
        return None
    return user if hmac.compare_digest(signature, _signature(user)) else None


def new_feed(session: Session, user: User) -> str:
    user.calendar_salt = secrets.token_hex(16)
    record_event(session, kind="staff", type="user.calendar_feed_created", actor=user, subject=user,
                 summary=f"Staff {user.id} made a new calendar address", data={"user_id": user.id})
    return feed_url(user)


def revoke_feed(session: Session, user: User) -> None:
    user.calendar_salt = None
    record_event(session, kind="staff", type="user.calendar_feed_revoked", actor=user, subject=user,
                 summary=f"Staff {user.id} stopped their calendar address", data={"user_id": user.id})


def feed_ics(session: Session, user: User) -> bytes:
    from crisis.oncall.services import shifts_of_user

    start = utcnow() - timedelta(days=7)
    calendar = Calendar()
    calendar.add("prodid", "-//Krisstod//jour//SV")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Jour")
    calendar.add("x-wr-timezone", "Europe/Stockholm")
    for team, segment in shifts_of_user(session, user, start, FEED_DAYS):
        event = Event()
        event.add("uid", f"oncall-{team.id}-{user.id}-{int(segment.starts_at.timestamp())}@krisstod")
        event.add("summary", f"Jour: {team.name}")
        event.add("dtstart", segment.starts_at)
        event.add("dtend", segment.ends_at)
        event.add("dtstamp", utcnow())
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
