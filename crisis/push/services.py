"""The write side of push: subscriptions, the push before an alert's SMS, its acknowledgement.

A dispatch alert to someone with a push subscription (crisis.dispatch.services `_alert`) still
writes its SMS to the outbox in the same transaction, as every alert does, but held back
(`next_attempt_at`) for `PUSH_SMS_FALLBACK_SECONDS` (at most half the acknowledgement window).
A `PushAlert` row, written in the same transaction, is the push's own outbox. After the commit
the push is sent (`send_alert_pushes`, in a thread of its own or inline; the `push.send` sweep
picks up any the process lost). Then:

- acknowledged from the notification (or anywhere else) while the SMS is still held: the SMS
  is taken out of the outbox (`alert_acknowledged`), counted as saved;
- no device took the push (every push service refused, or the person has no device left):
  the SMS is released at once (`release_held` in crisis.messaging.services);
- nobody acknowledges: the hold runs out and the sender sends the SMS as it sends any other.

Push never writes an SMS of its own, so it can never cause a second one; the sender's claim
and the SMS's idempotency key keep their guarantees. The escalation deadline is the
dispatch's own and does not move.

A push carries what the SMS carries and no more: the alert's reference, its kind, the link
to the alert, and a single-use acknowledge token bound to this alert (dispatch and person).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from flask import current_app, has_app_context
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crisis.core.db import after_commit, db, pending_after_commit, utcnow
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.services import release_held, withdraw_held
from crisis.push.models import PushAlert, PushAlertStatus, PushSubscription
from crisis.push.sender import PushConfig, PushResult, send_push
from crisis.timeline.services import record_event

log = logging.getLogger(__name__)

DEFAULT_FALLBACK = timedelta(seconds=60)
#: How long the acknowledge token in a push stays usable.
ACK_TOKEN_VALIDITY = timedelta(hours=1)
#: An SMS saved by push: taken out of the outbox because the alert was acknowledged first.
SAVED_CODE = "push_ack"
#: A claim older than this belongs to a process that died mid-send.
STALE_SEND = timedelta(minutes=2)
MAX_SUBSCRIPTIONS = 10  # per person; the oldest goes when an eleventh device subscribes

# Plain text per language, like the SMS texts (crisis.messaging.texts): a push goes out in the
# recipient's language, whatever the language of the request or job that sends it.
TEXTS = {
    "title": {"sv": "Larm {ref}", "en": "Alert {ref}"},
    "title_escalation": {"sv": "Obekräftat larm {ref}", "en": "Unacknowledged alert {ref}"},
    "body": {"sv": "{kind}. Tryck för att öppna larmet.", "en": "{kind}. Tap to open the alert."},
    "body_escalation": {"sv": "{kind}. Du är nästa i tur. Tryck för att öppna larmet.",
                        "en": "{kind}. You are next in line. Tap to open the alert."},
    "action": {"sv": "Kvittera – jag tar det", "en": "Acknowledge – I'll take it"},
    "acked": {"sv": "Larm {ref} är kvitterat. Tack!", "en": "Alert {ref} is acknowledged. Thank you!"},
    "ack_failed": {"sv": "Larm {ref} kunde inte kvitteras härifrån. Tryck för att öppna det.",
                   "en": "Alert {ref} could not be acknowledged from here. Tap to open it."},
    "test_title": {"sv": "Testnotis", "en": "Test notification"},
    "test_body": {"sv": "Push fungerar på den här enheten.", "en": "Push works on this device."},
}


def text(key: str, language: str | None, **values: str) -> str:
    texts = TEXTS[key]
    return (texts.get(language or "sv") or texts["sv"]).format(**values)


class PushError(ValueError):
    """A subscription that cannot be stored as sent; the message says what to fix."""


# -- configuration ----------------------------------------------------------------------------


def push_config(config=None) -> PushConfig | None:
    """The VAPID keys and addresses for sending, or None where push is not configured."""
    if config is None:
        if not has_app_context():
            return None
        config = current_app.config
    if unavailable_reason(config) is not None:
        return None
    return PushConfig.from_config(config)


def fallback_window(ack_window: timedelta, config=None) -> timedelta:
    """How long an alert's SMS waits for the push to be acknowledged.

    `PUSH_SMS_FALLBACK_SECONDS` (default 60), but at most half the acknowledgement window, so
    the SMS always has time to be read before the dispatch escalates.
    """
    config = config if config is not None else current_app.config
    seconds = config.get("PUSH_SMS_FALLBACK_SECONDS")
    window = DEFAULT_FALLBACK if seconds in (None, "") else timedelta(seconds=int(seconds))
    return max(timedelta(0), min(window, ack_window / 2))


# -- subscriptions --------------------------------------------------------------------------------


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _b64_bytes(value, field: str, length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise PushError(f"keys.{field} must be the browser's key in url-safe base64.")
    value = value.strip()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise PushError(f"keys.{field} is not url-safe base64.") from None
    if len(raw) != length or (field == "p256dh" and raw[0] != 4):
        raise PushError(f"keys.{field} is not a browser push key ({length} bytes).")
    return value


def check_endpoint(endpoint) -> str:
    """An https address at a push service (plain http only on this machine, for tests)."""
    if not isinstance(endpoint, str) or not endpoint.strip() or len(endpoint) > 1000:
        raise PushError("endpoint must be the push service address the browser gave (at most 1000 characters).")
    endpoint = endpoint.strip()
    url = urlparse(endpoint)
    local = url.hostname in {"127.0.0.1", "localhost", "::1"}
    if not url.netloc or not (url.scheme == "https" or (url.scheme == "http" and local)):
        raise PushError("endpoint must be an https:// address at a push service.")
    return endpoint


def subscribe(session: Session, user, *, endpoint, p256dh, auth, device_label: str | None = None,
              now: datetime | None = None) -> PushSubscription:
    """Store (or renew) this browser's subscription for `user`.

    The same browser subscribing again keeps one row; a browser another person used before
    is theirs no longer: a phone alerts the person logged in on it.
    """
    now = now or utcnow()
    endpoint = check_endpoint(endpoint)
    p256dh = _b64_bytes(p256dh, "p256dh", 65)
    auth = _b64_bytes(auth, "auth", 16)
    label = (device_label or "").strip()[:80] or None
    digest = endpoint_hash(endpoint)
    row = session.scalar(select(PushSubscription).where(PushSubscription.endpoint_hash == digest))
    if row is None:
        row = PushSubscription(endpoint_hash=digest, created_at=now)
        session.add(row)
    row.user_id = user.id
    row.endpoint, row.p256dh, row.auth = endpoint, p256dh, auth
    row.device_label = label
    row.removed_at = row.removed_reason = None
    row.last_failure = None
    session.flush()
    # Bounded per person: the oldest devices go first.
    active = session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user.id, PushSubscription.removed_at.is_(None))
        .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
    ).all()
    for old in active[MAX_SUBSCRIPTIONS:]:
        old.removed_at, old.removed_reason = now, "replaced"
    record_event(session, kind="staff", type="push.subscribed", actor=user, subject=row,
                 summary=f"Staff {user.id} turned on push alerts on a device (subscription {row.id})",
                 data={"user_id": user.id, "subscription_id": row.id})
    return row


def unsubscribe(session: Session, user, subscription: PushSubscription, *, now: datetime | None = None) -> bool:
    """Stop pushing to this device; False if it was already off."""
    now = now or utcnow()
    if subscription.removed_at is not None:
        return False
    subscription.removed_at, subscription.removed_reason = now, "unsubscribed"
    record_event(session, kind="staff", type="push.unsubscribed", actor=user, subject=subscription,
                 summary=f"Staff {user.id} turned off push alerts on a device (subscription {subscription.id})",
                 data={"user_id": user.id, "subscription_id": subscription.id})
    return True


def user_subscriptions(session: Session, user_id: int) -> list[PushSubscription]:
    """The person's devices, active first, newest first."""
    return list(session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.removed_at.is_not(None), PushSubscription.created_at.desc(),
                  PushSubscription.id.desc())
    ))


def push_ready_users(session: Session, user_ids: Iterable[int]) -> set[int]:
    """Of these people, those a push can reach: push configured and at least one device on."""
    ids = sorted(set(user_ids))
    if not ids or push_config() is None:
        return set()
    return set(session.scalars(
        select(PushSubscription.user_id).distinct()
        .where(PushSubscription.user_id.in_(ids), PushSubscription.removed_at.is_(None))
    ))


# -- the push before an alert's SMS --------------------------------------------------------------------


def alert_content(*, ref: str, kind_text: str, url: str, language: str, escalation: bool) -> dict:
    """What the notification shows: reference, kind and the alert's link, as the SMS has them."""
    suffix = "_escalation" if escalation else ""
    return {
        "ref": ref, "kind": kind_text, "url": url, "lang": language,
        "title": text("title" + suffix, language, ref=ref),
        "body": text("body" + suffix, language, kind=kind_text),
        "action": text("action", language),
        "acked": text("acked", language, ref=ref),
        "ack_failed": text("ack_failed", language, ref=ref),
    }


def ack_token(secret_key: str, alert: PushAlert) -> str:
    """The acknowledge token in the push: derived from the alert row, so nothing usable is stored."""
    material = f"push-ack:{alert.id}:{alert.dispatch_id}:{alert.user_id}:{alert.created_at.isoformat()}"
    digest = hmac.new(secret_key.encode(), material.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hold_for_push(session: Session, *, dispatch_id: int, user_id: int, level: int, kind: str, message,
                  content: dict, held_until: datetime, now: datetime) -> PushAlert:
    """Record the push that goes before `message` (already held until `held_until`) and send it
    once this transaction commits."""
    alert = PushAlert(
        dispatch_id=dispatch_id, user_id=user_id, level=level, kind=kind,
        message_id=message.id if message is not None else None, language=content.get("lang") or "sv",
        status=PushAlertStatus.PENDING, sms_held_until=held_until, created_at=now,
        ack_expires_at=now + ACK_TOKEN_VALIDITY,
    )
    alert.content = json.dumps(content, ensure_ascii=False)
    session.add(alert)
    session.flush()
    alert.ack_token_hash = token_hash(ack_token(current_app.config["SECRET_KEY"], alert))
    _send_after_commit(session, alert.id)
    return alert


def _send_after_commit(session: Session, alert_id: int) -> None:
    config = push_config()
    if config is None:
        return
    mode = str(current_app.config.get("PUSH_SEND_MODE") or "thread")
    if mode == "off":  # tests that drive the sender themselves; the sweep still sends
        return
    # One callback per transaction sends them all; a rollback drops it with its ids (crisis.core.db).
    for callback in pending_after_commit(session):
        ids = getattr(callback, "push_alert_ids", None)
        if ids is not None:
            ids.append(alert_id)
            return
    ids = [alert_id]

    def send() -> None:
        if mode == "inline":
            send_alert_pushes(config, list(ids))
        else:
            threading.Thread(target=send_alert_pushes, args=(config, list(ids)), name="push-sender",
                             daemon=True).start()

    send.push_alert_ids = ids  # type: ignore[attr-defined]
    after_commit(session, send)


# -- sending ---------------------------------------------------------------------------------------


def _new_session() -> Session:
    assert db.engine is not None, "database not configured"
    return Session(bind=db.engine, expire_on_commit=False)


def send_alert_pushes(config: PushConfig, alert_ids: Iterable[int], *, session: Session | None = None,
                      now: datetime | None = None) -> dict[int, PushAlertStatus]:
    """Send these alerts' pushes (each claimed first, so two senders never send one twice).

    Each alert commits on its own: claim, then the HTTP requests outside any transaction, then
    what the push services said. A push no device took releases its SMS at once.
    """
    own = session is None
    session = session or _new_session()
    results: dict[int, PushAlertStatus] = {}
    try:
        for alert_id in alert_ids:
            try:
                results[alert_id] = _send_one(session, config, alert_id, now)
            except Exception:  # one alert's failure must not keep the others from going
                session.rollback()
                log.exception("push alert %s could not be sent; its SMS is released", alert_id)
                _give_up(session, alert_id, now or utcnow())
    finally:
        if own:
            session.close()
    return results


def _give_up(session: Session, alert_id: int, now: datetime) -> None:
    try:
        alert = session.get(PushAlert, alert_id)
        if alert is not None and alert.status in (PushAlertStatus.PENDING, PushAlertStatus.SENDING):
            alert.status = PushAlertStatus.FAILED
            if alert.message_id is not None:
                release_held(session, [alert.message_id], now=now)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("push alert %s: could not release its SMS; the hold still runs out", alert_id)


def _send_one(session: Session, config: PushConfig, alert_id: int, now: datetime | None) -> PushAlertStatus:
    now = now or utcnow()
    taken = session.execute(
        update(PushAlert).where(PushAlert.id == alert_id, PushAlert.status == PushAlertStatus.PENDING)
        .values(status=PushAlertStatus.SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if not taken:
        alert = session.get(PushAlert, alert_id)
        return alert.status if alert is not None else PushAlertStatus.FAILED
    alert = session.scalars(select(PushAlert).where(PushAlert.id == alert_id)
                            .execution_options(populate_existing=True)).one()
    if alert.message_id is not None and session.scalar(
            select(Message.status).where(Message.id == alert.message_id)) != MessageStatus.QUEUED:
        # Acknowledged or called off before the push could go: nothing to alert about.
        alert.status = PushAlertStatus.FAILED
        session.commit()
        return alert.status
    subscriptions = session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == alert.user_id, PushSubscription.removed_at.is_(None))
        .order_by(PushSubscription.id)
    ).all()
    payload = {"v": 1, "type": "dispatch", **json.loads(alert.content or "{}"),
               "tag": f"dispatch-{alert.dispatch_id}", "ack_token": ack_token(config.secret_key, alert),
               "ack_url": "/push/ack"}
    targets = [(s.id, s.info()) for s in subscriptions]
    session.commit()  # no transaction stays open during the HTTP requests
    outcomes = [(sid, send_push(config, sid, info, payload)) for sid, info in targets]
    accepted = record_outcomes(session, outcomes, now=now)
    alert = session.get(PushAlert, alert_id)
    alert.devices = accepted
    if accepted:
        alert.status, alert.sent_at = PushAlertStatus.SENT, now
    else:
        alert.status = PushAlertStatus.FAILED
        if alert.message_id is not None and release_held(session, [alert.message_id], now=now):
            log.info("push alert %s reached no device; its SMS goes now", alert.id)
    session.commit()
    return alert.status


def record_outcomes(session: Session, outcomes: list[tuple[int, PushResult]], *, now: datetime) -> int:
    """Put the push services' answers on the subscriptions; returns how many accepted.

    A 404 or 410 means the browser's subscription is gone: it is removed, and the device page
    says so.
    """
    accepted = 0
    for subscription_id, result in outcomes:
        row = session.get(PushSubscription, subscription_id)
        if row is None:
            continue
        if result.ok:
            accepted += 1
            row.last_success_at = now
            continue
        row.last_failure_at, row.last_failure = now, (result.reason or "failed")[:40]
        if result.gone and row.removed_at is None:
            row.removed_at, row.removed_reason = now, "gone"
            record_event(session, kind="staff", type="push.removed", actor="system", subject=row,
                         summary=f"Push subscription {row.id} of staff {row.user_id} removed: the push "
                                 f"service answered {result.status}",
                         data={"user_id": row.user_id, "subscription_id": row.id, "status": result.status})
    return accepted


def send_test(session: Session, config: PushConfig, user, *, language: str,
              now: datetime | None = None) -> dict:
    """"Testnotis" to every device of `user`; what the push services answered, per device."""
    now = now or utcnow()
    targets = [(s.id, s.info()) for s in session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user.id, PushSubscription.removed_at.is_(None))
        .order_by(PushSubscription.id)
    )]
    session.commit()
    payload = {"v": 1, "type": "test", "title": text("test_title", language), "body": text("test_body", language),
               "url": "/me/device", "tag": "test", "lang": language}
    outcomes = [(sid, send_push(config, sid, info, payload, ttl=60, urgency="normal")) for sid, info in targets]
    accepted = record_outcomes(session, outcomes, now=now)
    return {"devices": len(targets), "accepted": accepted,
            "removed": sum(1 for _sid, r in outcomes if r.gone)}


def send_overdue_pushes(session: Session, config: PushConfig | None, *, now: datetime | None = None,
                        limit: int = 100) -> int:
    """The sweep: pushes whose after-commit send was lost (the process stopped), and sends a
    process died in the middle of (their SMS is released rather than the push repeated)."""
    now = now or utcnow()
    stale = session.scalars(
        select(PushAlert.id).where(PushAlert.status == PushAlertStatus.SENDING,
                                   PushAlert.claimed_at <= now - STALE_SEND).limit(limit)
    ).all()
    for alert_id in stale:
        released = session.execute(
            update(PushAlert).where(PushAlert.id == alert_id, PushAlert.status == PushAlertStatus.SENDING)
            .values(status=PushAlertStatus.FAILED).execution_options(synchronize_session=False)
        ).rowcount
        alert = session.get(PushAlert, alert_id)
        if released and alert is not None and alert.message_id is not None:
            release_held(session, [alert.message_id], now=now)
        session.commit()
    pending = list(session.scalars(
        select(PushAlert.id).where(PushAlert.status == PushAlertStatus.PENDING,
                                   PushAlert.created_at <= now - timedelta(seconds=5))
        .order_by(PushAlert.id).limit(limit)
    ))
    session.commit()
    if not pending:
        return len(stale)
    if config is None:  # the keys were removed since: the SMS goes instead
        for alert_id in pending:
            _give_up(session, alert_id, now)
        return len(stale) + len(pending)
    send_alert_pushes(config, pending, session=session)
    return len(stale) + len(pending)


# -- acknowledgement -------------------------------------------------------------------------------------


def find_ack(session: Session, token, *, now: datetime | None = None) -> PushAlert | None:
    """The alert whose push carried `token`, while the token is unused and in time."""
    now = now or utcnow()
    if not isinstance(token, str) or not token or len(token) > 64:
        return None
    alert = session.scalar(select(PushAlert).where(PushAlert.ack_token_hash == token_hash(token)))
    if alert is None or alert.ack_used_at is not None:
        return None
    if alert.ack_expires_at is not None and alert.ack_expires_at <= now:
        return None
    return alert


def use_ack_token(session: Session, alert: PushAlert, *, now: datetime | None = None) -> bool:
    """Spend the token (once: a second tap, or a replay, finds it used)."""
    now = now or utcnow()
    return bool(session.execute(
        update(PushAlert).where(PushAlert.id == alert.id, PushAlert.ack_used_at.is_(None))
        .values(ack_used_at=now).execution_options(synchronize_session="fetch")
    ).rowcount)


def alert_acknowledged(session: Session, dispatch_id: int, *, user_id: int, via: str,
                       now: datetime | None = None) -> int:
    """The dispatch was taken: SMS still held for its pushes are not needed any more.

    Called by crisis.dispatch.services.acknowledge_dispatch in its transaction, before it
    withdraws the rest. Returns how many SMS were saved.
    """
    now = now or utcnow()
    alerts = session.scalars(select(PushAlert).where(PushAlert.dispatch_id == dispatch_id)).all()
    if not alerts:
        return 0
    # Saved by push: texts whose push reached a device. The others (push failed, or not sent yet)
    # are withdrawn by the dispatch like any alert that is no longer needed.
    withdrawn = withdraw_held(session, [a.message_id for a in alerts
                                        if a.message_id is not None and a.status == PushAlertStatus.SENT],
                              reason=SAVED_CODE, now=now)
    for alert in alerts:
        if alert.message_id in withdrawn:
            alert.sms_saved = True
        if alert.user_id == user_id:
            alert.acknowledged_via = via
    return len(withdrawn)


# -- figures -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushFigures:
    pushed: int  # alerts that reached at least one device by push
    acknowledged: int  # of them, acknowledged from the notification
    sms_saved: int  # SMS that never went because the alert was acknowledged while it was held


def push_figures(session: Session, *, start: datetime | None = None, end: datetime | None = None) -> PushFigures:
    """How many alerts went by push, were acknowledged from it, and the SMS that saved."""
    conditions = []
    if start is not None:
        conditions.append(PushAlert.created_at >= start)
    if end is not None:
        conditions.append(PushAlert.created_at < end)
    pushed, acknowledged, saved = session.execute(
        select(
            func.count().filter(PushAlert.status == PushAlertStatus.SENT),
            func.count().filter(PushAlert.acknowledged_via == "push"),
            func.count().filter(PushAlert.sms_saved.is_(True)),
        ).where(*conditions)
    ).one()
    return PushFigures(int(pushed or 0), int(acknowledged or 0), int(saved or 0))


def unavailable_reason(config=None) -> str | None:
    """Why this server cannot send push alerts, in words for the device page; None when it can."""
    from crisis.core.config import vapid_problem

    config = config if config is not None else current_app.config
    public, private = config.get("VAPID_PUBLIC_KEY"), config.get("VAPID_PRIVATE_KEY")
    if not public and not private:
        return "not_configured"
    return "misconfigured" if vapid_problem(public, private, config.get("VAPID_SUBJECT")) else None
