"""Shared values and queries for the follow-up tests."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

PLAYBOOK_CONTENT = {
    "id": "test-followups", "version": 1, "title": {"sv": "Testplan", "en": "Test plan"},
    "applies_to": ["shooting"], "phases": [],
    "follow_ups": {"for_each": "relative", "after": "first_contact", "at": ["1d", "1w", "1mo"],
                   "acute_within": "1w", "channel": "phone"},
    "messages": {
        "dispatch": {"sv": "Larm {ref}: {kind}. {link}", "en": "Alert {ref}: {kind}. {link}"},
        "dispatch_escalation": {"sv": "Obekräftat {ref}. {link}", "en": "Unacknowledged {ref}. {link}"},
        "followup_reminder": {"sv": "Påminnelse: uppföljning {ref} senast {due}. Logga in: {link}",
                              "en": "Reminder: follow-up {ref} due {due}. Log in: {link}"},
        "task_overdue": {"sv": "Försenad uppgift {ref} ({kind}), deadline {due}. Logga in: {link}",
                         "en": "Overdue task {ref} ({kind}), deadline {due}. Log in: {link}"},
        "morning_summary": {
            "sv": "God morgon. Öppna uppgifter: {count_open}, försenade: {count_overdue}, "
                  "uppföljningar i dag: {count_followups}. {link}",
            "en": "Good morning. Open tasks: {count_open}, overdue: {count_overdue}, "
                  "follow-ups today: {count_followups}. {link}"},
    },
    "escalation": {"dispatch_ack_within": "10m", "escalate_to": ["next_in_team", "coordinator"],
                   "task_overdue_notify": ["owner", "coordinator"]},
}


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Stockholm wall-clock moment as aware UTC (what the database stores)."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


# Monday 22 June 2026, 10:00 in Stockholm: a working day, inside reminder hours.
NOW = local(2026, 6, 22, 10, 0)


def outbox(session, purpose: str | None = None):
    from sqlalchemy import select

    from crisis.messaging.models import Message

    query = select(Message).order_by(Message.id)
    if purpose:
        query = query.where(Message.purpose == purpose)
    return list(session.scalars(query))


def events(session, type_: str | None = None):
    from sqlalchemy import select

    from crisis.timeline.models import TimelineEvent

    query = select(TimelineEvent).order_by(TimelineEvent.id)
    if type_:
        query = query.where(TimelineEvent.type == type_)
    return list(session.scalars(query))
