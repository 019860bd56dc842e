"""Reminders to follow-up owners: claim due rows, queue the SMS, record it.

The database is the truth (docs/architecture.md): a sweep works in three committed steps.

1. Release claims older than `CLAIM_STALE_AFTER`: their process died or hung
   mid-sweep. The row is retried by the next claim, up to
   `MAX_CLAIM_ATTEMPTS` claims; then the sweep gives up on that reminder and
   says so in the timeline (the overdue escalation still covers the follow-up).
2. Claim a batch of due rows with a token: on PostgreSQL a `SELECT ... FOR
   UPDATE SKIP LOCKED` inside the claiming UPDATE, so two schedulers take
   disjoint rows without waiting; on SQLite the same UPDATE conditional on
   `claim_token IS NULL` (SQLite runs one writer at a time, so it is atomic).
   Commit.
3. In one transaction for the batch: mark the rows still claimed by this
   token and still due as reminded (a conditional UPDATE, so a row whose
   claim went stale and was taken over is not touched), queue one outbox row
   per reminder and append one timeline event each. Commit.

The outbox row and `reminder_sent_at` commit together or not at all, and the
outbox refuses a second row with the same idempotency key. So two scheduler
processes started by mistake send each reminder once, and a process killed
at any point leaves rows that are either reminded (committed) or claimed
(released later and retried): none lost, none twice.

Scheduler bookkeeping (claims, reminder_sent_at) is written with Core
UPDATEs that leave `version` alone: the version guards staff's edits against
each other, and a reminder going out must not make a worker's outcome fail
as "changed by someone else".
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.core.db import utcnow
from crisis.core.holidays import STOCKHOLM
from crisis.followups.batches import batch_ids, marked_follow_ups
from crisis.followups.models import FollowUp
from crisis.followups.notify import (
    StaffTexts,
    format_due,
    playbook_text,
    public_url_for,
    sms_language,
)
from crisis.followups.services import OPEN_STATUSES
from crisis.incidents.models import Incident, IncidentStatus, Relative
from crisis.timeline.services import record_event, record_events

log = logging.getLogger(__name__)

follow_ups = FollowUp.__table__

PURPOSE = "followup_reminder"
# Reminders go out in the working day, from 07:00 Stockholm time on the day a
# follow-up is due, and not after 21:00: a reminder is not an alarm, and staff
# phones are private phones at night. One due in the evening is reminded in
# the morning of that day; one planned in the night after 21:00 is reminded
# at 07:00 (it is then overdue, and the escalation has its own clock).
REMINDER_DAY_STARTS = time(7, 0)
REMINDER_DAY_ENDS = time(21, 0)
# A claim older than this belongs to a process that died or hung; a healthy
# batch takes well under a second per hundred rows.
CLAIM_STALE_AFTER = timedelta(minutes=10)
MAX_CLAIM_ATTEMPTS = 5
BATCH_SIZE = 200
# An SMS reminder that could not go out by the end of the working day is
# pointless; the outbox drops it rather than send it at night.
REMINDER_VALIDITY = timedelta(hours=12)


@dataclass
class SweepReport:
    released: int = 0
    abandoned: int = 0
    claimed: int = 0
    sent: int = 0
    not_sent: int = 0
    skipped: int = 0  # no longer due when its turn came (done, moved, taken over)
    failed: int = 0
    batches: int = 0
    sent_ids: list[int] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        for name in ("released", "abandoned", "claimed", "sent", "not_sent", "skipped", "failed",
                     "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sent_ids.extend(other.sent_ids)


def reminder_horizon(now: datetime) -> datetime | None:
    """Follow-ups due before this moment get their reminder now; None outside the reminder hours."""
    local = now.astimezone(STOCKHOLM)
    if not (REMINDER_DAY_STARTS <= local.time() < REMINDER_DAY_ENDS):
        return None
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=STOCKHOLM).astimezone(UTC)


def _due_for_reminder(horizon: datetime):
    return and_(
        follow_ups.c.status.in_([s.value for s in OPEN_STATUSES]),
        follow_ups.c.reminder_sent_at.is_(None),
        follow_ups.c.due_at.is_not(None),
        follow_ups.c.due_at < horizon,
        follow_ups.c.attempts < MAX_CLAIM_ATTEMPTS,
    )


# --- Step 1: stale claims -----------------------------------------------------------


def release_stale_claims(session: Session, *, now: datetime) -> tuple[int, int]:
    """Release claims older than CLAIM_STALE_AFTER; returns (released, given up).

    Rows that used up their attempts get a timeline event saying the
    reminder was given up, in the same transaction as the release.
    """
    stale = and_(follow_ups.c.claim_token.is_not(None),
                 follow_ups.c.claimed_at < now - CLAIM_STALE_AFTER)
    rows = session.execute(
        update(follow_ups).where(stale)
        .values(claim_token=None, claimed_at=None, updated_at=follow_ups.c.updated_at)
        .returning(follow_ups.c.id, follow_ups.c.attempts, follow_ups.c.reminder_sent_at,
                   follow_ups.c.incident_id, follow_ups.c.label)
    ).all()
    abandoned = [r for r in rows if r.attempts >= MAX_CLAIM_ATTEMPTS and r.reminder_sent_at is None]
    for row in abandoned:
        record_event(
            session, kind="followup", type="followup.reminder_given_up", actor="scheduler",
            incident_id=row.incident_id, subject=row.id,
            summary=f"Reminder for follow-up {row.label} given up after {row.attempts} attempts",
            data={"follow_up_id": row.id, "attempts": row.attempts, "reason": "claims_went_stale"},
        )
    if rows:
        # A crashed or hung scheduler is worth a line in the audit trail, once per recovery.
        record_event(
            session, kind="followup", type="scheduler.stale_claims_released", actor="scheduler",
            summary=f"{len(rows)} follow-up reminders left unfinished by a stopped scheduler are retried",
            data={"follow_up_ids": sorted(r.id for r in rows)[:500], "count": len(rows),
                  "given_up": len(abandoned), "stale_after_minutes": int(CLAIM_STALE_AFTER.total_seconds() // 60)},
        )
        log.warning("released %d stale follow-up claims (%d given up)", len(rows), len(abandoned))
    return len(rows), len(abandoned)


# --- Step 2: claim ------------------------------------------------------------------


def claim_due_reminders(session: Session, *, now: datetime, horizon: datetime, token: str,
                        limit: int = BATCH_SIZE) -> list[int]:
    """Claim up to `limit` follow-ups whose reminder is due; returns their ids."""
    due = (
        select(follow_ups.c.id)
        .join(Incident.__table__, Incident.__table__.c.id == follow_ups.c.incident_id)
        .join(Relative.__table__, Relative.__table__.c.id == follow_ups.c.relative_id)
        .where(
            _due_for_reminder(horizon),
            follow_ups.c.claim_token.is_(None),
            Incident.__table__.c.status != IncidentStatus.CLOSED.value,
            Relative.__table__.c.anonymised_at.is_(None),
        )
        .order_by(follow_ups.c.due_at, follow_ups.c.id)
        .limit(limit)
    )
    claimed = session.execute(
        update(follow_ups)
        # Re-checked on the row itself: on SQLite this condition is the claim,
        # on PostgreSQL it is a second guard after the lock.
        .where(follow_ups.c.id.in_(batch_ids(session, due, follow_ups)), follow_ups.c.claim_token.is_(None))
        .values(claim_token=token, claimed_at=now, attempts=follow_ups.c.attempts + 1,
                updated_at=follow_ups.c.updated_at)
        .returning(follow_ups.c.id)
    ).scalars().all()
    return sorted(claimed)


# --- Step 3: act and record ------------------------------------------------------


def send_claimed_reminders(session: Session, ids: list[int], *, token: str, now: datetime,
                           horizon: datetime) -> SweepReport:
    """Queue the reminders of the rows this token claimed, in the caller's transaction."""
    report = SweepReport(claimed=len(ids))
    if not ids:
        return report
    # First statement of the transaction and a write: it takes SQLite's write
    # lock at once (no stale read snapshot to upgrade) and opens the
    # transaction the per-row savepoints below live in.
    still_ours = session.execute(
        update(follow_ups)
        .where(follow_ups.c.id.in_(ids), follow_ups.c.claim_token == token, _due_for_reminder(horizon))
        .values(reminder_sent_at=now, claim_token=None, claimed_at=None)
        .returning(follow_ups.c.id)
    ).scalars().all()
    # Claimed but no longer due (an outcome was recorded, the date moved):
    # let go of the claim, nothing to send.
    session.execute(
        update(follow_ups).where(follow_ups.c.id.in_(ids), follow_ups.c.claim_token == token)
        .values(claim_token=None, claimed_at=None, updated_at=follow_ups.c.updated_at)
    )
    report.skipped = len(ids) - len(still_ours)
    if not still_ours:
        return report
    rows = marked_follow_ups(session, still_ours)
    texts = StaffTexts(session)
    try:
        # Fast path: the whole batch in one savepoint and a fixed number of
        # statements: each recipient checked once, the outbox rows, their
        # status rows and the timeline events written one INSERT each.
        with session.begin_nested():
            outcomes = _remind_batch(session, rows, now, texts)
    except Exception:
        # Something in the batch failed: redo it row by row, so that one bad
        # row costs only itself.
        log.warning("a reminder in a batch of %d failed; retrying the batch row by row", len(rows))
        outcomes = _remind_one_by_one(session, rows, now, texts, report)
    for follow_up, outcome in outcomes:
        if outcome == "sent":
            report.sent += 1
            report.sent_ids.append(follow_up.id)
        else:
            report.not_sent += 1
    return report


def _remind_one_by_one(session: Session, rows: list[FollowUp], now: datetime, texts: StaffTexts,
                       report: SweepReport) -> list[tuple[FollowUp, str]]:
    outcomes = []
    for follow_up in rows:
        try:
            # One savepoint per reminder: its outbox row and event stand or
            # fall together, without taking the rest of the batch along.
            with session.begin_nested():
                outcomes.append((follow_up, _remind(session, follow_up, now, texts)))
        except IntegrityError:
            # The outbox already holds this reminder (its key is unique): it
            # was sent and only the mark was missing. Keep the mark.
            log.info("reminder for follow-up %s already in the outbox", follow_up.id)
            report.skipped += 1
        except Exception:
            # A bug or a broken row must not stop the other reminders: undo
            # this one's mark so the next claim retries it (bounded by attempts).
            log.exception("reminder for follow-up %s failed; it is retried", follow_up.id)
            _unmark(session, follow_up.id, now, reason="error")
            report.failed += 1
    return outcomes


def reminder_recipient(follow_up: FollowUp) -> User | None:
    """The owner; if there is none or they left, the incident's coordinator."""
    owner = follow_up.owner
    if owner is not None and owner.active:
        return owner
    coordinator = follow_up.relative.incident.coordinator
    if coordinator is not None and coordinator.active:
        return coordinator
    return None


def reminder_key(follow_up: FollowUp) -> str:
    """One reminder per follow-up and due moment: a retry or a new date is a new reminder."""
    return f"followup-reminder:{follow_up.id}:{int(follow_up.due_at.timestamp())}"


def _remind(session: Session, follow_up: FollowUp, now: datetime, texts: StaffTexts) -> str:
    incident = follow_up.relative.incident
    recipient = reminder_recipient(follow_up)
    if recipient is None:
        return _not_sendable(session, follow_up, now, reason="no_owner")
    body = _reminder_body(incident, follow_up, recipient)
    # No inner savepoint: a duplicate key fails this reminder's savepoint
    # (send_claimed_reminders), which is what it should undo.
    message, refusal = texts.queue(
        recipient, purpose=PURPOSE, body=body, incident_id=incident.id,
        idempotency_key=reminder_key(follow_up), validity=REMINDER_VALIDITY, now=now, savepoint=False,
    )
    if message is None:
        return _not_sendable(session, follow_up, now, reason=refusal or "refused",
                             recipient_id=recipient.id)
    to_owner = recipient.id == follow_up.owner_user_id
    record_event(
        session, kind="followup", type="followup.reminder_sent", actor="scheduler",
        incident_id=incident.id, subject=follow_up,
        summary=(f"Reminder for follow-up {follow_up.label} with {follow_up.relative.label} sent to "
                 f"{'its owner' if to_owner else 'the coordinator (no owner)'}"),
        data={"follow_up_id": follow_up.id, "relative_id": follow_up.relative_id,
              "recipient_user_id": recipient.id, "message_id": message.id,
              "due_at": follow_up.due_at.isoformat()},
    )
    return "sent"


def _reminder_body(incident: Incident, follow_up: FollowUp, recipient: User) -> str:
    language = sms_language(recipient)
    link = public_url_for("followups.show", f"/followups/{follow_up.id}", follow_up_id=follow_up.id)
    return playbook_text(
        incident.playbook_snapshot.content, "followup_reminder", language,
        ref=incident.reference, link=link, due=format_due(follow_up.due_at, language),
    )


def _remind_batch(session: Session, rows: list[FollowUp], now: datetime,
                  texts: StaffTexts) -> list[tuple[FollowUp, str]]:
    """`_remind` for a whole batch, in a constant number of statements."""
    recipients = [reminder_recipient(follow_up) for follow_up in rows]
    items = [
        (recipient, {"purpose": PURPOSE, "body": _reminder_body(f.relative.incident, f, recipient),
                     "incident_id": f.relative.incident.id, "idempotency_key": reminder_key(f),
                     "validity": REMINDER_VALIDITY, "now": now})
        for f, recipient in zip(rows, recipients, strict=True) if recipient is not None
    ]
    queued = iter(texts.queue_many(items))
    outcomes: list[tuple[FollowUp, str]] = []
    events: list[dict] = []
    not_sendable: list[int] = []
    for follow_up, recipient in zip(rows, recipients, strict=True):
        message_id, refusal = next(queued) if recipient is not None else (None, "no_owner")
        if message_id is None:
            not_sendable.append(follow_up.id)
            events.append(_not_sendable_event(follow_up, reason=refusal or "refused",
                                              recipient_id=recipient.id if recipient else None))
            outcomes.append((follow_up, "not_sent"))
            continue
        to_owner = recipient.id == follow_up.owner_user_id
        events.append(dict(
            kind="followup", type="followup.reminder_sent", actor="scheduler",
            incident_id=follow_up.incident_id, subject=follow_up.id,
            summary=(f"Reminder for follow-up {follow_up.label} with {follow_up.relative.label} sent to "
                     f"{'its owner' if to_owner else 'the coordinator (no owner)'}"),
            data={"follow_up_id": follow_up.id, "relative_id": follow_up.relative_id,
                  "recipient_user_id": recipient.id, "message_id": message_id,
                  "due_at": follow_up.due_at.isoformat()},
        ))
        outcomes.append((follow_up, "sent"))
    if not_sendable:
        session.execute(
            update(follow_ups).where(follow_ups.c.id.in_(not_sendable))
            .values(reminder_sent_at=None, attempts=MAX_CLAIM_ATTEMPTS, updated_at=follow_ups.c.updated_at)
        )
    record_events(session, events)
    return outcomes


def _not_sendable_event(follow_up: FollowUp, *, reason: str, recipient_id: int | None) -> dict:
    return dict(
        kind="followup", type="followup.reminder_not_sent", actor="scheduler",
        incident_id=follow_up.incident_id, subject=follow_up.id,
        summary=f"No reminder for follow-up {follow_up.label} with {follow_up.relative.label}: {reason}",
        data={"follow_up_id": follow_up.id, "reason": reason, "recipient_user_id": recipient_id},
    )


def _not_sendable(session: Session, follow_up: FollowUp, now: datetime, *, reason: str,
                  recipient_id: int | None = None) -> str:
    """Nobody can get this reminder: say so once and stop trying (attempts at the bound).

    The follow-up stays on the week lists and the overdue escalation still
    reaches the coordinator if it is not done in time.
    """
    session.execute(
        update(follow_ups).where(follow_ups.c.id == follow_up.id)
        .values(reminder_sent_at=None, attempts=MAX_CLAIM_ATTEMPTS, updated_at=follow_ups.c.updated_at)
    )
    record_event(
        session, kind="followup", type="followup.reminder_not_sent", actor="scheduler",
        incident_id=follow_up.incident_id, subject=follow_up,
        summary=f"No reminder for follow-up {follow_up.label} with {follow_up.relative.label}: {reason}",
        data={"follow_up_id": follow_up.id, "reason": reason, "recipient_user_id": recipient_id},
    )
    return "not_sent"


def _unmark(session: Session, follow_up_id: int, now: datetime, *, reason: str) -> None:
    row = session.execute(
        update(follow_ups).where(follow_ups.c.id == follow_up_id)
        .values(reminder_sent_at=None, updated_at=follow_ups.c.updated_at)
        .returning(follow_ups.c.attempts, follow_ups.c.incident_id, follow_ups.c.label)
    ).one()
    if row.attempts >= MAX_CLAIM_ATTEMPTS:
        record_event(
            session, kind="followup", type="followup.reminder_given_up", actor="scheduler",
            incident_id=row.incident_id, subject=follow_up_id,
            summary=f"Reminder for follow-up {row.label} given up after {row.attempts} attempts",
            data={"follow_up_id": follow_up_id, "attempts": row.attempts, "reason": reason},
        )


# --- The sweep ---------------------------------------------------------------------


def new_claim_token() -> str:
    return secrets.token_hex(16)


def run_reminder_sweep(session: Session, *, now: datetime | None = None, batch_size: int = BATCH_SIZE,
                       max_batches: int | None = None) -> SweepReport:
    """Release stale claims, then claim and remind batch by batch until nothing is due.

    Each step commits; a crash between steps leaves claims that the next
    sweep (of this or another process) releases once they are stale.
    """
    now = now or utcnow()
    report = SweepReport()
    released, abandoned = release_stale_claims(session, now=now)
    session.commit()
    report.released, report.abandoned = released, abandoned
    horizon = reminder_horizon(now)
    if horizon is None:
        return report
    while max_batches is None or report.batches < max_batches:
        token = new_claim_token()
        ids = claim_due_reminders(session, now=now, horizon=horizon, token=token, limit=batch_size)
        session.commit()
        if not ids:
            break
        try:
            batch = send_claimed_reminders(session, ids, token=token, now=now, horizon=horizon)
            session.commit()
        except Exception:
            # The claims stay; they go stale and are retried (bounded).
            session.rollback()
            raise
        report.add(batch)
        report.batches += 1
    return report
