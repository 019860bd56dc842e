"""The write side of SMS: the transactional outbox, statuses, replies and opt-outs.

A text to send is a `Message` row written in the same transaction as the
change that causes it (a dispatch, a reminder): if that change rolls back,
no text exists; if it commits, the sender (crisis.messaging.sender) will
hand the row to the provider. Nothing here talks to a provider.

Statuses only move forward (`MessageStatus.rank`): Twilio's callbacks arrive
out of order and more than once, and every one of them is kept in the
status history, but a late `sent` never undoes a `delivered`.

Who may get an SMS (docs/architecture.md "Sensitive data stays in the system", docs/domain.md
"Consent", "Protected identity"): staff with a number who have not opted
out; relatives only with consent to SMS recorded, never with protected
identity, and never after they opted out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, load_only
from sqlalchemy.orm.attributes import set_committed_value

from crisis.core.crypto import keyring
from crisis.core.db import utcnow
from crisis.core.signals import sms_not_delivered, sms_reply_received
from crisis.messaging.gateway import normalize_status
from crisis.messaging.keywords import InboundKind, classify_inbound
from crisis.messaging.models import (
    PLAIN_COLUMNS,
    Direction,
    Message,
    MessageStatus,
    MessageStatusEvent,
    SmsOptOut,
)
from crisis.messaging.texts import system_text
from crisis.messaging.wake import wake_sender_after_commit
from crisis.timeline.services import record_event

log = logging.getLogger(__name__)

#: Statuses after which nothing more happens to a message.
FINAL_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED}
)
#: Final statuses that mean the text did not reach the phone.
NOT_DELIVERED = frozenset({MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED})

#: Twilio error code: the recipient has opted out (texted STOP) of this sender.
TWILIO_UNSUBSCRIBED_CODE = 21610

#: How long an answer to a reply may wait before it is pointless.
REPLY_VALIDITY = timedelta(hours=1)
#: Default validity of a text when the caller names none; alerts use shorter ones.
DEFAULT_VALIDITY = timedelta(hours=4)

# Twilio handles its standard keywords itself (it blocks and answers STOP,
# START, HELP ...); only the Swedish keywords it does not know are answered
# here (crisis.messaging.keywords).
_ANSWERED_OPT_OUT_KEYWORDS = frozenset({"STOPP", "AVSLUTA"})
_ANSWERED_HELP_KEYWORDS = frozenset({"HJÄLP", "HJALP"})


class SmsRefused(Exception):
    """An SMS that must not be sent; `reason` is a short code, the message says why."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# -- who may get an SMS ---------------------------------------------------------


def number_digests(number: str) -> list[str]:
    """The blind-index digests of a number under every key (newest first)."""
    return keyring.digests(number)


def is_opted_out(session: Session, number: str | None) -> bool:
    if not number:
        return False
    return session.scalar(
        select(SmsOptOut.opted_out)
        .where(SmsOptOut.phone_digest.in_(number_digests(number)), SmsOptOut.opted_out.is_(True))
        .limit(1)
    ) is not None


def opted_out_numbers(session: Session, numbers: Iterable[str | None]) -> set[str]:
    """Which of `numbers` opted out (`is_opted_out` for many numbers: one query)."""
    by_digest = {d: n for n in {n for n in numbers if n} for d in number_digests(n)}
    if not by_digest:
        return set()
    return {by_digest[d] for d in session.scalars(
        select(SmsOptOut.phone_digest)
        .where(SmsOptOut.phone_digest.in_(list(by_digest)), SmsOptOut.opted_out.is_(True))
    )}


def is_protected_recipient(session: Session, number: str, relative_id: int | None = None) -> bool:
    """The relative `relative_id`, or any relative with this number, has protected identity
    (skyddade personuppgifter: never an SMS, docs/domain.md "Protected identity")."""
    from sqlalchemy import or_

    from crisis.incidents.models import Relative

    match = Relative.phone_digest.in_(number_digests(number))
    if relative_id is not None:
        match = or_(match, Relative.id == relative_id)
    return session.scalar(
        select(Relative.id).where(match, Relative.protected_identity.is_(True)).limit(1)
    ) is not None


def readable_body(session: Session, message: Message, viewer) -> str | None:
    """The text, or None where `viewer` may not read it: a relative with protected identity
    is read only by their contact person and the incident's coordinator (docs/domain.md "Protected identity")."""
    relative = message.recipient_relative
    if relative is not None and relative.protected_identity:
        from crisis.incidents.access import can_see_relative_details

        if not can_see_relative_details(session, viewer, relative):
            return None
    return message.body


def belongs_to_protected_identity(session: Session, number: str) -> bool:
    """Is `number` the phone of a relative with protected identity (skyddade personuppgifter)?"""
    from crisis.incidents.models import Relative

    return session.scalar(
        select(Relative.id)
        .where(Relative.phone_digest.in_(number_digests(number)), Relative.protected_identity.is_(True),
               Relative.anonymised_at.is_(None))
        .limit(1)
    ) is not None


def sms_refusal_for_user(session: Session, user) -> SmsRefused | None:
    """Why staff member `user` cannot be alerted by SMS, or None."""
    refusal = _static_refusal(user)
    if refusal is not None:
        return refusal
    if is_opted_out(session, user.phone):
        return SmsRefused("opted_out", f"Staff {user.id} has opted out of SMS (replied STOP).")
    return None


def sms_refusals_for_users(session: Session, users: Iterable) -> dict[int, SmsRefused | None]:
    """`sms_refusal_for_user` for many staff at once (one query for the opt-outs)."""
    users = list(users)
    digests = {u.id: number_digests(u.phone) for u in users if u.phone}
    wanted = [d for ds in digests.values() for d in ds]
    opted_out = set(session.scalars(
        select(SmsOptOut.phone_digest).where(SmsOptOut.phone_digest.in_(wanted), SmsOptOut.opted_out.is_(True))
    )) if wanted else set()
    refusals: dict[int, SmsRefused | None] = {}
    for user in users:
        if user.phone and user.active and opted_out.intersection(digests[user.id]):
            refusals[user.id] = SmsRefused("opted_out", f"Staff {user.id} has opted out of SMS (replied STOP).")
        else:
            refusals[user.id] = _static_refusal(user)
    return refusals


def _static_refusal(user) -> SmsRefused | None:
    if not user.active:
        return SmsRefused("inactive", f"Staff {user.id} is deactivated.")
    if not user.phone:
        return SmsRefused("no_number", f"Staff {user.id} has no mobile number.")
    return None


def sms_refusal_for_relative(session: Session, relative) -> SmsRefused | None:
    """Why relative `relative` must not get an SMS, or None.

    Protected identity (skyddade personuppgifter) means never an SMS, with
    or without consent: a text on a shared or watched phone can reveal the
    contact itself (docs/domain.md "Protected identity"). Otherwise the relative
    must have consented to contact by SMS (ConsentScope.SMS): social
    services may only contact a relative on a client's information with
    consent (docs/domain.md "Consent").
    """
    if relative.protected_identity:
        return SmsRefused("protected_identity",
                          f"{relative.label} has protected identity: never an SMS.")
    if relative.anonymised_at is not None:
        return SmsRefused("anonymised", f"{relative.label} has been anonymised.")
    if not relative.phone:
        return SmsRefused("no_number", f"{relative.label} has no phone number.")
    if not has_sms_consent(relative):
        return SmsRefused("no_consent",
                          f"{relative.label} has not consented to contact by SMS; record consent with scope SMS first.")
    if is_opted_out(session, relative.phone):
        return SmsRefused("opted_out", f"{relative.label} has opted out of SMS (replied STOP).")
    return None


def has_sms_consent(relative) -> bool:
    """The relative's latest consent decision is "given" and covers SMS (ConsentScope.SMS)."""
    from crisis.incidents.models import ConsentScope
    from crisis.incidents.services import consent_covers

    return consent_covers(relative, ConsentScope.SMS.value)


# -- the outbox -------------------------------------------------------------------


def queue_sms(
    session: Session,
    *,
    to: str,
    body: str,
    purpose: str,
    language: str = "sv",
    incident_id: int | None = None,
    dispatch_id: int | None = None,
    recipient_user_id: int | None = None,
    recipient_relative_id: int | None = None,
    validity: timedelta | None = None,
    idempotency_key: str | None = None,
    respect_opt_out: bool = True,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """Write one outbound text to the outbox, in the caller's transaction.

    Refused (`SmsRefused`) for a number that opted out, and always for a
    number of a relative with protected identity, whoever asks.

    `validity` bounds how late the text may still go out (our queue and the
    provider's together); an alert that cannot arrive in time is dropped
    rather than delivered hours late. `idempotency_key` makes a second queue
    of the same text fail on the unique constraint instead of sending twice.

    `not_before` holds the text back until then (an alert waiting for its push to be
    acknowledged, crisis.push.services); its validity counts from then.
    """
    now = now or utcnow()
    if not to or not to.startswith("+"):
        raise SmsRefused("no_number", "An SMS needs a number in E.164 form (+46...).")
    if not body.strip():
        raise SmsRefused("empty", "An SMS needs a text.")
    if respect_opt_out and is_opted_out(session, to):
        raise SmsRefused("opted_out", "The recipient has opted out of SMS (replied STOP).")
    if belongs_to_protected_identity(session, to):
        # Whatever the purpose (even an answer to a text they sent): never an SMS.
        raise SmsRefused("protected_identity", "The number belongs to a relative with protected identity.")
    if is_protected_recipient(session, to, recipient_relative_id):
        # Checked here, for every caller (replies to inbound texts too), not only in queue_sms_to_relative.
        raise SmsRefused("protected_identity", "The number belongs to a relative with protected identity: "
                                               "never an SMS.")
    validity = validity or DEFAULT_VALIDITY
    message = Message(
        direction=Direction.OUTBOUND,
        purpose=purpose,
        to_number=to,
        counterpart_digest=keyring.digest(to),
        body=body,
        language=language,
        incident_id=incident_id,
        dispatch_id=dispatch_id,
        recipient_user_id=recipient_user_id,
        recipient_relative_id=recipient_relative_id,
        status=MessageStatus.QUEUED,
        idempotency_key=idempotency_key,
        attempts=0,
        next_attempt_at=not_before or now,
        validity_s=int(validity.total_seconds()),
        expires_at=(not_before or now) + validity,
        status_changed_at=now,
        created_at=now,
    )
    message.status_events.append(MessageStatusEvent(status=MessageStatus.QUEUED, source="outbox", at=now))
    session.add(message)
    session.flush()
    wake_sender_after_commit(session)
    return message


def sms_blocks(session: Session, numbers: Iterable[str], relative_ids: Iterable[int] = (), *,
               opt_out_numbers: Iterable[str] | None = None) -> tuple[set, set]:
    """(opted-out numbers, protected numbers and relative ids) for many recipients: two queries.

    The same rules as `queue_sms` applies one text at a time: a number of a
    relative with protected identity (anonymised or not) and the relatives
    `relative_ids` who have protected identity are never texted.
    """
    from crisis.incidents.models import Relative

    numbers = {n for n in numbers if n}
    relative_ids = {r for r in relative_ids if r is not None}
    by_digest = {d: n for n in numbers for d in number_digests(n)}
    ask = numbers if opt_out_numbers is None else {n for n in opt_out_numbers if n}
    opt_out_digests = [d for d, n in by_digest.items() if n in ask]
    opted_out: set[str] = set()
    protected: set = set()
    if opt_out_digests:
        opted_out = {by_digest[d] for d in session.scalars(
            select(SmsOptOut.phone_digest)
            .where(SmsOptOut.phone_digest.in_(opt_out_digests), SmsOptOut.opted_out.is_(True))
        )}
    if by_digest or relative_ids:
        match = []
        if by_digest:
            match.append(Relative.phone_digest.in_(list(by_digest)))
        if relative_ids:
            match.append(Relative.id.in_(sorted(relative_ids)))
        for rel_id, digest in session.execute(
            select(Relative.id, Relative.phone_digest).where(or_(*match), Relative.protected_identity.is_(True))
        ):
            if digest in by_digest:
                protected.add(by_digest[digest])
            if rel_id in relative_ids:
                protected.add(("relative", rel_id))
    return opted_out, protected


def queue_sms_many(session: Session, texts: list[dict], *, now: datetime | None = None,
                   objects: bool = False) -> list:
    """`queue_sms` for many texts: constant in statements, whatever their number.

    Each item holds `queue_sms`'s keyword arguments. Every distinct number is
    checked once (opt-out, protected identity), the messages are written
    with one multi-row INSERT and their first status rows with another.
    Every text needs its own idempotency key. Returns, in order, the new
    message's id (the `Message` with `objects`) or the `SmsRefused` that
    kept it out. A duplicate idempotency key raises IntegrityError for the whole
    statement: run it in a savepoint and fall back to `queue_sms` one by one.
    """
    now = now or utcnow()
    opted_out, protected = sms_blocks(
        session, (t.get("to") for t in texts), (t.get("recipient_relative_id") for t in texts),
        opt_out_numbers=[t.get("to") for t in texts if t.get("respect_opt_out", True)],
    )
    results: list[int | SmsRefused | None] = []
    rows: list[dict] = []
    for text in texts:
        to = text.get("to")
        body = text.get("body") or ""
        if not to or not to.startswith("+"):
            results.append(SmsRefused("no_number", "An SMS needs a number in E.164 form (+46...)."))
        elif not body.strip():
            results.append(SmsRefused("empty", "An SMS needs a text."))
        elif text.get("respect_opt_out", True) and to in opted_out:
            results.append(SmsRefused("opted_out", "The recipient has opted out of SMS (replied STOP)."))
        elif to in protected or ("relative", text.get("recipient_relative_id")) in protected:
            results.append(SmsRefused("protected_identity",
                                      "The number belongs to a relative with protected identity: never an SMS."))
        else:
            validity = text.get("validity") or DEFAULT_VALIDITY
            start = text.get("not_before") or now
            results.append(None)
            rows.append({
                "direction": Direction.OUTBOUND, "purpose": text["purpose"], "to_number": to,
                "counterpart_digest": keyring.digest(to), "body": body,
                "language": text.get("language") or "sv", "incident_id": text.get("incident_id"),
                "dispatch_id": text.get("dispatch_id"), "recipient_user_id": text.get("recipient_user_id"),
                "recipient_relative_id": text.get("recipient_relative_id"), "status": MessageStatus.QUEUED,
                "idempotency_key": text.get("idempotency_key"), "attempts": 0, "next_attempt_at": start,
                "validity_s": int(validity.total_seconds()), "expires_at": start + validity,
                "status_changed_at": now, "created_at": now,
            })
    if rows:
        keys = [row["idempotency_key"] for row in rows]
        if None in keys or len(set(keys)) != len(keys):
            raise ValueError("queue_sms_many needs a distinct idempotency key for every text")
        # Matched back by key: asking the database to keep the rows' order
        # (sort_by_parameter_order) would make SQLite insert row by row.
        if objects:
            # The number and text just written come back as written, not decrypted again.
            made = {m.idempotency_key: m for m in session.scalars(
                insert(Message).returning(Message).options(load_only(*PLAIN_COLUMNS)), rows)}
            for row in rows:
                message = made[row["idempotency_key"]]
                set_committed_value(message, "to_number", row["to_number"])
                set_committed_value(message, "from_number", None)
                set_committed_value(message, "body", row["body"])
        else:
            made = dict((k, i) for i, k in session.execute(
                insert(Message).returning(Message.id, Message.idempotency_key), rows))
        pending = iter(keys)
        results = [made[next(pending)] if r is None else r for r in results]
        new_ids = [r.id if objects else r for r in results if not isinstance(r, SmsRefused)]
        session.execute(insert(MessageStatusEvent), [
            {"message_id": i, "status": MessageStatus.QUEUED, "source": "outbox", "at": now} for i in new_ids
        ])
        wake_sender_after_commit(session)
    return results


def queue_sms_to_relative(
    session: Session,
    relative,
    *,
    body: str,
    purpose: str,
    actor=None,
    validity: timedelta | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Message:
    """An SMS to a relative, refused (`SmsRefused`) without consent or with protected identity."""
    refusal = sms_refusal_for_relative(session, relative)
    if refusal is not None:
        raise refusal
    message = queue_sms(
        session, to=relative.phone, body=body, purpose=purpose, language=relative.language or "sv",
        incident_id=relative.incident_id, recipient_relative_id=relative.id, validity=validity,
        idempotency_key=idempotency_key, now=now,
    )
    record_event(
        session, kind="message", type="message.queued", actor=actor, incident_id=relative.incident_id,
        subject=message, summary=f"SMS queued to {relative.label} ({purpose})",
        data={"message_id": message.id, "relative_id": relative.id, "purpose": purpose},
    )
    return message


def withdraw_queued(
    session: Session,
    messages: Iterable[Message],
    *,
    reason: str,
    notify: bool = False,
    now: datetime | None = None,
) -> int:
    """Take texts that have not gone to the provider out of the outbox.

    `notify` says whether their failure matters to whoever queued them (an
    opt-out does: the alert cannot arrive; an acknowledged alert's pending
    escalation does not).
    """
    now = now or utcnow()
    count = 0
    for message in messages:
        if message.status != MessageStatus.QUEUED or message.provider_id is not None:
            continue
        message.status = MessageStatus.FAILED
        message.error_code = reason
        message.error_message = "Withdrawn before sending"
        message.status_changed_at = now
        message.next_attempt_at = None
        message.status_events.append(
            MessageStatusEvent(status=MessageStatus.FAILED, error_code=reason, source="outbox", at=now)
        )
        count += 1
        if notify:
            _after_final_status(session, message, now)
    return count


def release_held(session: Session, message_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Texts held back (`not_before`) go now: their push reached no device.

    A conditional update per text: one already claimed, sent or withdrawn is left as it is,
    so this can never send anything twice. The text keeps its validity, counted from now.
    """
    now = now or utcnow()
    ids = sorted({i for i in message_ids if i is not None})
    if not ids:
        return 0
    rows = session.execute(
        select(Message.id, Message.validity_s, Message.expires_at)
        .where(Message.id.in_(ids), Message.status == MessageStatus.QUEUED, Message.provider_id.is_(None),
               Message.next_attempt_at > now)
    ).all()
    released = 0
    for message_id, validity_s, expires_at in rows:
        released += session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.QUEUED,
                   Message.provider_id.is_(None))
            .values(next_attempt_at=now,
                    expires_at=now + timedelta(seconds=validity_s) if validity_s else expires_at)
            .execution_options(synchronize_session="fetch")
        ).rowcount
    if released:
        wake_sender_after_commit(session)
    return released


def withdraw_held(session: Session, message_ids: Iterable[int], *, reason: str,
                  now: datetime | None = None) -> set[int]:
    """Take texts out of the outbox that are not needed any more; returns those taken.

    Only a text still queued and never handed to the provider is taken, by a conditional
    update, so a sender that claimed it first sends it and this changes nothing. On
    PostgreSQL the updated row stays locked until the commit and a sender's claim
    (FOR UPDATE SKIP LOCKED, then `status = 'queued'`) passes it by.
    """
    now = now or utcnow()
    taken: set[int] = set()
    for message_id in sorted({i for i in message_ids if i is not None}):
        done = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.QUEUED,
                   Message.provider_id.is_(None))
            .values(status=MessageStatus.FAILED, error_code=reason[:20], error_message="Not needed: withdrawn "
                    "before sending", next_attempt_at=None, status_changed_at=now)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if done:
            taken.add(message_id)
    if taken:
        session.execute(insert(MessageStatusEvent), [
            {"message_id": i, "status": MessageStatus.FAILED, "error_code": reason[:20], "source": "outbox",
             "at": now} for i in sorted(taken)])
    return taken


# -- statuses -------------------------------------------------------------------------


def record_status(
    session: Session,
    message: Message,
    status: MessageStatus,
    *,
    source: str,
    error_code: str | int | None = None,
    error_message: str | None = None,
    now: datetime | None = None,
    history: list[dict] | None = None,
) -> bool:
    """Keep `status` in the history and move the message forward to it if it is ahead.

    A callback Twilio repeats (same status and error) is kept once. Returns
    whether the message's current status changed. With `history` the status
    row is added to that list (the sender writes a batch's rows with one
    INSERT) instead of to `message.status_events`, which then need not be loaded.
    """
    now = now or utcnow()
    code = str(error_code) if error_code not in (None, "") else None
    if source == "callback" and any(
        e.source == "callback" and e.status == status and e.error_code == code
        for e in message.status_events
    ):
        return False
    if history is not None and source != "callback":
        history.append(status_event_row(message.id, status, source=source, error_code=code, at=now))
    else:
        message.status_events.append(MessageStatusEvent(status=status, error_code=code, source=source, at=now))
    if status.rank <= message.status.rank:
        return False  # out of order, or a second final word: history only
    message.status = status
    message.status_changed_at = now
    if status in (MessageStatus.SENT, MessageStatus.DELIVERED) and message.sent_at is None:
        message.sent_at = now
    if code is not None:
        message.error_code = code
    if error_message:
        message.error_message = error_message[:500]
    if status in FINAL_STATUSES:
        message.next_attempt_at = None
        message.claim_token = None
        _after_final_status(session, message, now)
    return True


def status_event_row(message_id: int, status: MessageStatus, *, source: str, at: datetime,
                     error_code: str | None = None) -> dict:
    """One row of a message's status history, for a multi-row INSERT (`write_status_events`)."""
    return {"message_id": message_id, "status": status, "error_code": error_code, "source": source, "at": at}


def write_status_events(session: Session, rows: list[dict]) -> None:
    """Status history rows of many messages in one INSERT."""
    if rows:
        # The table, not the entity: the ORM's bulk INSERT would split the rows by which
        # values are None (a Core executemany sends every row's error_code, NULL or not).
        session.execute(insert(MessageStatusEvent.__table__), rows)


def _after_final_status(session: Session, message: Message, now: datetime) -> None:
    """The timeline learns how each text ended; an alert that cannot arrive escalates."""
    status = message.status
    summary = f"SMS {message.id} ({message.purpose}) {status.value}"
    if message.error_code:
        summary += f", error {message.error_code}"
    record_event(
        session, kind="message", type=f"message.{status.value}", actor="sms",
        incident_id=message.incident_id, subject=message, summary=summary,
        data={
            "message_id": message.id, "purpose": message.purpose, "status": status.value,
            "error_code": message.error_code, "dispatch_id": message.dispatch_id,
            "recipient": recipient_label(message),
        },
    )
    if message.error_code == str(TWILIO_UNSUBSCRIBED_CODE) and message.to_number:
        # Twilio refuses because the number texted STOP to it: keep our record in step.
        set_opt_out(session, message.to_number, opted_out=True, keyword="STOP", source="provider", now=now)
    if status in NOT_DELIVERED and message.dispatch_id is not None:
        sms_not_delivered.send(session, session=session, message=message, now=now)  # dispatch escalates


def recipient_label(message: Message) -> str:
    """Who is at the other end, as the timeline may say it (no names, no numbers)."""
    if message.recipient_user_id is not None:
        return f"staff {message.recipient_user_id}"
    if message.recipient_relative is not None:
        return message.recipient_relative.label
    return "unknown number"


def apply_status_callback(
    session: Session, form: Mapping[str, str], message_hint: str | None = None, now: datetime | None = None
) -> Message | None:
    """Twilio's status callback for one message (already checked as signed by Twilio).

    The row is found by Twilio's SID, or, when the process that sent it died
    before recording that SID, by the message id the sender put in the
    callback URL: the callback then tells us the text did go out, and it is
    never sent again.
    """
    now = now or utcnow()
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    raw_status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not raw_status:
        return None
    message = session.scalar(select(Message).where(Message.provider_id == sid))
    if message is None and message_hint and message_hint.isdigit():
        candidate = session.get(Message, int(message_hint))
        if candidate is not None and candidate.direction == Direction.OUTBOUND:
            if candidate.provider_id is None:
                adopt_provider_message(session, candidate, sid, source="callback", now=now)
                message = candidate
            elif candidate.provider_id != sid:
                log.error("message %s was sent twice: provider ids %s and %s",
                          candidate.id, candidate.provider_id, sid)
                return None
    if message is None:
        log.warning("status callback for an unknown message; ignored")
        return None
    status = MessageStatus(normalize_status(raw_status))
    record_status(session, message, status, source="callback", error_code=form.get("ErrorCode"),
                  error_message=form.get("ErrorMessage"), now=now)
    return message


def adopt_provider_message(session: Session, message: Message, provider_id: str, *, source: str,
                           now: datetime) -> None:
    """The provider has this text under `provider_id`: it is out, never to be sent again."""
    message.provider_id = provider_id
    message.claim_token = None
    message.next_attempt_at = None
    if message.status == MessageStatus.QUEUED:
        message.status = MessageStatus.SENDING
        message.status_changed_at = now
        message.status_events.append(MessageStatusEvent(status=MessageStatus.SENDING, source=source, at=now))


# -- opt-out -------------------------------------------------------------------------


def set_opt_out(
    session: Session,
    number: str,
    *,
    opted_out: bool,
    keyword: str,
    source: str = "sms",
    now: datetime | None = None,
) -> bool:
    """Record that `number` opted out of (or back into) SMS; True if that changed.

    Opting out also withdraws the texts to that number still waiting in the
    outbox: STOP is honoured at once, not after the queue drains.
    """
    now = now or utcnow()
    digests = number_digests(number)
    rows = session.scalars(select(SmsOptOut).where(SmsOptOut.phone_digest.in_(digests))).all()
    current = any(r.opted_out for r in rows)
    if rows and current == opted_out:
        return False
    if not rows and not opted_out:
        return False  # never opted out: START changes nothing
    newest = next((r for r in rows if r.phone_digest == digests[0]), None)
    for row in rows:
        if row is not newest:
            session.delete(row)  # rows under older keys collapse into one under the newest
    if newest is None:
        newest = SmsOptOut(phone_digest=digests[0])
        session.add(newest)
    newest.opted_out = opted_out
    newest.keyword = keyword[:20]
    newest.changed_at = now
    if opted_out:
        waiting = session.scalars(
            select(Message).where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.QUEUED,
                Message.counterpart_digest.in_(digests),
            )
        ).all()
        withdraw_queued(session, waiting, reason="opted_out", notify=True, now=now)
    _record_opt_out_events(session, number, opted_out=opted_out, keyword=keyword, source=source)
    return True


def _record_opt_out_events(session: Session, number: str, *, opted_out: bool, keyword: str, source: str) -> None:
    verb = "opted out of" if opted_out else "opted back into"
    type_ = "sms.opted_out" if opted_out else "sms.opted_in"
    staff, relatives = people_with_number(session, number)
    data = {"keyword": keyword, "source": source}
    for user in staff:
        # Staff reachability is in the staff record (shown on their profile): user.opted_out / user.opted_in.
        record_event(session, kind="staff", type="user.opted_out" if opted_out else "user.opted_in", actor="sms",
                     subject=user, summary=f"Staff {user.id} {verb} SMS ({keyword})", data={"user_id": user.id})
    for relative in relatives:
        record_event(session, kind="message", type=type_, actor="sms", incident_id=relative.incident_id,
                     summary=f"{relative.label} {verb} SMS ({keyword})",
                     data={**data, "relative_id": relative.id})
    if not staff and not relatives:
        record_event(session, kind="message", type=type_, actor="sms",
                     summary=f"A number not in the register {verb} SMS ({keyword})", data=data)


def people_with_number(session: Session, number: str) -> tuple[list, list]:
    """Staff and relatives (not anonymised) whose phone is `number`."""
    from crisis.auth.models import User
    from crisis.incidents.models import Relative

    staff = session.scalars(select(User).where(User.phone == number).order_by(User.id)).all()
    relatives = session.scalars(
        select(Relative)
        .where(Relative.phone_digest.in_(number_digests(number)), Relative.anonymised_at.is_(None))
        .order_by(Relative.id)
    ).all()
    return list(staff), list(relatives)


# -- inbound -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundResult:
    message: Message | None  # None for a repeated webhook
    kind: InboundKind | None = None
    reply: Message | None = None
    duplicate: bool = False


def receive_inbound(session: Session, form: Mapping[str, str], now: datetime | None = None) -> InboundResult:
    """An SMS someone sent us (already checked as signed by Twilio).

    Stored as an inbound row (once: Twilio repeats a webhook it got no answer
    to), then acted on: an acknowledgement of an alert, an opt-out or
    opt-in, a request for help, or free text kept for a coordinator to read.
    """
    now = now or utcnow()
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    sender = (form.get("From") or "").strip()
    if not sid or not sender:
        return InboundResult(None)
    if session.scalar(select(Message.id).where(Message.provider_id == sid)) is not None:
        return InboundResult(None, duplicate=True)
    staff, relatives = people_with_number(session, sender)
    active_staff = [u for u in staff if u.active]
    user = active_staff[0] if active_staff else None
    # A number shared by relatives: the conversation of the latest text to it, or "ambiguous" (issue 14).
    from crisis.messaging.attribution import attribute

    attribution = attribute(session, number_digests(sender), relatives) if user is None else None
    relative = attribution.relative if attribution is not None else None
    language = (user.language if user else None) or (relative.language if relative else None) or "sv"
    message = Message(
        direction=Direction.INBOUND,
        purpose="inbound",
        from_number=sender,
        to_number=(form.get("To") or "").strip() or None,
        counterpart_digest=keyring.digest(sender),
        body=form.get("Body") or "",
        language=language,
        incident_id=relative.incident_id if relative is not None else None,
        attribution=attribution.how if attribution is not None else None,
        recipient_user_id=user.id if user else None,
        recipient_relative_id=relative.id if relative else None,
        status=MessageStatus.RECEIVED,
        provider_id=sid,
        attempts=0,
        status_changed_at=now,
        created_at=now,
    )
    message.status_events.append(MessageStatusEvent(status=MessageStatus.RECEIVED, source="inbound", at=now))
    session.add(message)
    session.flush()

    intent = classify_inbound(message.body)
    reply_text: str | None = None
    reply_despite_opt_out = False
    kind = intent.kind
    if kind == InboundKind.ACK and active_staff:
        # dispatch acknowledges the alert and says what to answer (crisis.dispatch.receivers)
        answers = sms_reply_received.send(
            session, session=session, staff=active_staff, ref=intent.ref, language=language, now=now)
        reply_text = next((answer for _receiver, answer in answers if answer), None)
    elif kind == InboundKind.OPT_OUT:
        set_opt_out(session, sender, opted_out=True, keyword=intent.keyword or "STOP", now=now)
        if intent.keyword in _ANSWERED_OPT_OUT_KEYWORDS:
            reply_text = system_text("opted_out", language)
            reply_despite_opt_out = True  # the one confirmation an opt-out gets
    elif kind == InboundKind.OPT_IN:
        set_opt_out(session, sender, opted_out=False, keyword=intent.keyword or "START", now=now)
    elif kind == InboundKind.HELP:
        if intent.keyword in _ANSWERED_HELP_KEYWORDS:
            reply_text = system_text("help", language)
    else:
        kind = InboundKind.OTHER
    shared = attribution is not None and attribution.how is not None
    if kind in (InboundKind.OTHER, InboundKind.HELP) or (kind == InboundKind.ACK and not active_staff) or shared:
        data = {"message_id": message.id, "intent": intent.kind.value}
        if shared:  # ids only: a coordinator sees who else the number belongs to
            data.update(attribution=attribution.how, relative_ids=list(attribution.candidates))
        record_event(
            session, kind="message", type="message.received", actor="sms", incident_id=message.incident_id,
            subject=message, summary=f"SMS received from {recipient_label(message)}"
            + (" (number shared by several relatives: check who wrote)" if attribution and attribution.how == "ambiguous"
               else ""),
            data=data,
        )
    reply = None
    if reply_text:
        try:
            reply = queue_sms(
                session, to=sender, body=reply_text, purpose="reply", language=language,
                incident_id=message.incident_id, recipient_user_id=message.recipient_user_id,
                recipient_relative_id=message.recipient_relative_id, validity=REPLY_VALIDITY,
                idempotency_key=f"reply:{sid}", respect_opt_out=not reply_despite_opt_out, now=now,
            )
        except SmsRefused:
            reply = None
    return InboundResult(message, kind, reply)
