"""SMS to staff from the scheduler's sweeps: texts from the pinned playbook, queued in the outbox.

Every text comes from the incident's pinned playbook (`messages.<name>.<lang>`,
falling back to Swedish) with only the placeholders the playbook schema
allows filled in: a reference, a link, a time, a count. Never a name, an
address or anything about what happened (docs/architecture.md "Sensitive data stays in
the system").
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from crisis.auth.models import User
from crisis.messaging.models import Message
from crisis.playbooks.render import format_moment

log = logging.getLogger(__name__)

# Snapshots pinned before a template existed still get a text: the same
# wording as the shipped playbooks (playbooks/*.yaml, `messages`).
DEFAULT_MESSAGES: Mapping[str, Mapping[str, str]] = {
    "followup_reminder": {
        "sv": "Påminnelse: uppföljning {ref} senast {due}. Logga in: {link}",
        "en": "Reminder: follow-up {ref} due {due}. Log in: {link}",
    },
    "task_overdue": {
        "sv": "Försenad uppgift {ref} ({kind}), deadline {due}. Logga in: {link}",
        "en": "Overdue task {ref} ({kind}), deadline {due}. Log in: {link}",
    },
    "morning_summary": {
        "sv": "God morgon. Öppna uppgifter: {count_open}, försenade: {count_overdue}, "
              "uppföljningar i dag: {count_followups}. {link}",
        "en": "Good morning. Open tasks: {count_open}, overdue: {count_overdue}, "
              "follow-ups today: {count_followups}. {link}",
    },
}


class _OnlyKnown(dict):
    """Leaves an unknown placeholder as written instead of failing the sweep."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def playbook_text(content: Mapping | None, name: str, language: str | None, **values) -> str:
    """The playbook's `name` template in `language` (else Swedish) with `values` filled in."""
    texts = ((content or {}).get("messages") or {}).get(name) or DEFAULT_MESSAGES[name]
    template = texts.get(language or "sv") or texts.get("sv") or DEFAULT_MESSAGES[name]["sv"]
    # Only plain names are filled (the loader refuses {ref.__class__} too):
    # format_map with attribute access would let a template reach into objects.
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if any(not field.isidentifier() for field in fields):
        template = DEFAULT_MESSAGES[name].get(language or "sv") or DEFAULT_MESSAGES[name]["sv"]
    return template.format_map(_OnlyKnown({k: str(v) for k, v in values.items()}))


def public_url(path: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"] if has_app_context() else "http://127.0.0.1:5000"
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def public_url_for(endpoint: str, fallback_path: str, **values) -> str:
    """The public address of a page (for an SMS), built outside any request.

    `fallback_path` is used while the page's blueprint is not registered
    (a capability not written yet), so a text never fails for a link.
    """
    if has_app_context():
        try:
            path = current_app.url_map.bind("localhost").build(endpoint, values)
        except (BuildError, ValueError):
            path = fallback_path
    else:
        path = fallback_path
    return public_url(path)


def format_due(moment: datetime, language: str | None) -> str:
    """'2026-06-22 mån 14:00' in Stockholm time (the playbook renderer's format)."""
    return format_moment(moment, "en" if language == "en" else "sv")


def sms_language(user: User) -> str:
    return user.language or "sv"


class StaffTexts:
    """Queues the texts of one sweep batch to staff, in the caller's transaction.

    Whether a person may get a text (a number, not deactivated, not opted
    out) is looked up once per person per batch: a batch of reminders mostly
    goes to a handful of owners, and the check is two queries.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._refusals: dict[int, str | None] = {}

    def refusal(self, user: User) -> str | None:
        from crisis.messaging.services import sms_refusal_for_user

        if user.id not in self._refusals:
            refused = sms_refusal_for_user(self.session, user)
            self._refusals[user.id] = refused.reason if refused is not None else None
        return self._refusals[user.id]

    def prepare(self, users) -> None:
        """Look up whether each of `users` may get a text, in one query for all of them."""
        from crisis.messaging.services import sms_refusals_for_users

        wanted = {u.id: u for u in users if u is not None and u.id not in self._refusals}
        if not wanted:
            return
        for user_id, refused in sms_refusals_for_users(self.session, wanted.values()).items():
            self._refusals[user_id] = refused.reason if refused is not None else None

    def queue_many(self, items: list[tuple[User, dict]]) -> list[tuple[int | None, str | None]]:
        """`queue` for a batch, in a constant number of statements (no savepoint of its own).

        Each item is (user, `queue`'s keyword arguments without `savepoint`).
        Returns (message id, None) or (None, reason) per item, in order. A
        duplicate idempotency key raises IntegrityError for the whole batch:
        the caller runs it in a savepoint and falls back to `queue` one by one.
        """
        from crisis.messaging.services import queue_sms_many

        self.prepare(user for user, _ in items)
        results: list[tuple[int | None, str | None]] = [(None, None)] * len(items)
        texts, positions = [], []
        for position, (user, kwargs) in enumerate(items):
            reason = self.refusal(user)
            if reason is not None:
                results[position] = (None, reason)
                continue
            positions.append(position)
            texts.append({
                "to": user.phone, "body": kwargs["body"], "purpose": kwargs["purpose"],
                "language": sms_language(user), "incident_id": kwargs.get("incident_id"),
                "recipient_user_id": user.id, "validity": kwargs["validity"],
                "idempotency_key": kwargs["idempotency_key"], "respect_opt_out": False,
            })
        now = items[0][1]["now"] if items else None
        for position, outcome in zip(positions, queue_sms_many(self.session, texts, now=now), strict=True):
            results[position] = (outcome, None) if isinstance(outcome, int) else (None, outcome.reason)
        return results

    def queue(
        self,
        user: User,
        *,
        purpose: str,
        body: str,
        incident_id: int | None,
        idempotency_key: str,
        validity: timedelta,
        now: datetime,
        savepoint: bool = True,
    ) -> tuple[Message | None, str | None]:
        """Queue `body` to staff member `user`.

        Returns (message, None) when queued, (None, reason) when it must not
        or need not be sent: the outbox refuses the person (no number, opted
        out, deactivated), or (with `savepoint`) a text with this
        idempotency key is already queued, which is the outbox's own guard
        against sending twice.

        With `savepoint` the insert runs in a SAVEPOINT, so a duplicate key
        spoils nothing else. The caller's transaction must then already have
        written something: pysqlite opens a transaction only before a write,
        and a SAVEPOINT outside one would commit on release. Without it the
        IntegrityError of a duplicate key reaches the caller, which rolls
        back its own savepoint or (small) transaction.
        """
        from crisis.messaging.services import SmsRefused, queue_sms

        reason = self.refusal(user)
        if reason is not None:
            return None, reason

        def insert() -> Message:
            # The opt-out was checked above for this batch; the outbox need not ask again.
            return queue_sms(
                self.session, to=user.phone, body=body, purpose=purpose, language=sms_language(user),
                incident_id=incident_id, recipient_user_id=user.id, validity=validity,
                idempotency_key=idempotency_key, respect_opt_out=False, now=now,
            )

        if not savepoint:
            try:
                return insert(), None  # a duplicate key's IntegrityError goes to the caller
            except SmsRefused as refused:
                return None, refused.reason
        try:
            with self.session.begin_nested():
                message = insert()
        except SmsRefused as refused:
            return None, refused.reason
        except IntegrityError:
            log.info("SMS %s already in the outbox; not queued again", idempotency_key)
            return None, "already_queued"
        return message, None


def queue_staff_sms(session: Session, user: User, **kwargs) -> tuple[Message | None, str | None]:
    """One text to staff member `user` (see StaffTexts.queue)."""
    return StaffTexts(session).queue(user, **kwargs)
