"""The SMS sender: claims outbox rows, hands them to the provider, records what happened.

One sweep (`run_sender_sweep`, the scheduler job `messaging.send`):

1. expire texts whose validity ran out while they waited;
2. settle stalled sends: a row claimed by a process that died, or whose
   request failed in a way that may have reached the provider, is looked up
   at the provider (`SmsGateway.find_sent`) and either adopted (it did go
   out) or queued again (it did not); only then may it be sent again;
3. claim due rows (an atomic conditional update; `FOR UPDATE SKIP LOCKED`
   on PostgreSQL), commit the claim, send them a few at a time on worker
   threads, paced per sender, and commit each outcome as it arrives.

Why this sends nothing twice after a crash or restart: a row is sent only
by the process whose claim committed, a claim is taken over only after a
lease far longer than the HTTP timeout, and a taken-over row is first
looked up at the provider. Transient failures that prove the request never
arrived (connection refused, 429) are retried with exponential backoff;
permanent ones (invalid number, 21610 unsubscribed) fail at once with
Twilio's error code.

Database work happens on the calling thread only; worker threads do HTTP.
"""

from __future__ import annotations

import logging
import queue
import random
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, load_only

from crisis.core.db import utcnow
from crisis.messaging.gateway import (
    TWILIO_RATE_LIMIT_CODE,
    PermanentSendError,
    SendError,
    SendRequest,
    SendResult,
    SmsGateway,
    TransientSendError,
    gateway_from_config,
)
from crisis.messaging.models import (
    PLAIN_COLUMNS,
    Direction,
    Message,
    MessageStatus,
    MessageStatusEvent,
)
from crisis.messaging.services import (
    adopt_provider_message,
    record_status,
    status_event_row,
    write_status_events,
)

log = logging.getLogger(__name__)

#: How long the answers of a batch are gathered after the first one before they are recorded.
RECORD_GATHER_S = 0.02

#: Twilio accepts a validity period of 1 to 36000 seconds and recommends more than 5.
MIN_VALIDITY_S = 5
MAX_VALIDITY_S = 36_000


@dataclass(frozen=True)
class SenderSettings:
    #: Requests per second handed to the provider for one sender (number or
    #: messaging service). Twilio queues what a sender cannot send at once
    #: (a long code sends about one segment per second) and fails what waits
    #: past the validity period; pacing keeps that queue, and the REST API's
    #: rate limit (429/20429), from being flooded by one large dispatch.
    rate_per_second: float = 30.0
    burst: int = 30
    #: Concurrent requests to the provider.
    workers: int = 10
    #: Rows claimed per sweep; a claim is sent well within the lease.
    batch_size: int = 200
    #: A claim older than this belongs to a process that died. Far longer
    #: than the HTTP timeout (10 s), so a live sender is never overtaken.
    stale_claim_after: timedelta = timedelta(minutes=5)
    #: The lease of a dispatch alert (issue 14): an alert stuck behind a crashed sender must not wait
    #: half an acknowledgement window. Still three times the HTTP timeout.
    dispatch_claim_after: timedelta = timedelta(seconds=30)
    #: When a request may have reached the provider, wait this long before
    #: looking it up there (Twilio lists a message once it has created it).
    settle_after: timedelta = timedelta(seconds=30)
    max_attempts: int = 6
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(minutes=5)
    #: Absolute URL of /webhooks/twilio/status, or None (outbox).
    status_callback_url: str | None = None


def settings_from_config(config: Mapping, gateway: SmsGateway) -> SenderSettings:
    """Sender settings for this app; callbacks only when a real provider can reach us."""
    callback = None
    if gateway.name == "twilio" and config.get("PUBLIC_BASE_URL"):
        callback = config["PUBLIC_BASE_URL"].rstrip("/") + "/webhooks/twilio/status"
    defaults = SenderSettings()
    return SenderSettings(
        # SMS_SEND_RATE=0 turns pacing off (Pacer.acquire never waits).
        rate_per_second=float(defaults.rate_per_second if config.get("SMS_SEND_RATE") in (None, "")
                              else config["SMS_SEND_RATE"]),
        burst=int(config.get("SMS_SEND_BURST") or defaults.burst),
        workers=int(config.get("SMS_SENDER_THREADS") or defaults.workers),
        status_callback_url=callback,
    )


_GATEWAY_KEY = "crisis.sms_gateway"


def get_gateway(app) -> SmsGateway:
    """The app's gateway, built once from its configuration (SMS_BACKEND ...)."""
    gateway = app.extensions.get(_GATEWAY_KEY)
    if gateway is None:
        gateway = gateway_from_config(app.config)
        app.extensions[_GATEWAY_KEY] = gateway
    return gateway


def set_gateway(app, gateway: SmsGateway | None) -> None:
    """Use `gateway` for this app (tests, benchmarks); None rebuilds from config."""
    if gateway is None:
        app.extensions.pop(_GATEWAY_KEY, None)
    else:
        app.extensions[_GATEWAY_KEY] = gateway


class Pacer:
    """A token bucket per sender: `rate` requests a second, bursts of `burst`.

    In-process: production runs exactly one scheduler process, which is the
    only one that sends (README "Production").
    """

    def __init__(self, rate: float, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self.burst = max(1, burst if burst is not None else int(rate) or 1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._held_until: dict[str, float] = {}

    def acquire(self, key: str) -> float:
        """Wait for a turn to send as `key`; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                tokens, last = self._buckets.get(key, (float(self.burst), now))
                tokens = min(float(self.burst), tokens + (now - last) * self.rate)
                held = self._held_until.get(key, 0.0) - now
                if held <= 0 and tokens >= 1:
                    self._buckets[key] = (tokens - 1, now)
                    return waited
                self._buckets[key] = (tokens, now)
                pause = max(held, (1 - tokens) / self.rate)
            self._sleep(pause)
            waited += pause

    def hold(self, key: str, seconds: float) -> None:
        """Send nothing as `key` for `seconds` (the provider said 429)."""
        with self._lock:
            until = self._clock() + seconds
            self._held_until[key] = max(self._held_until.get(key, 0.0), until)


_pacers: dict[tuple[float, int], Pacer] = {}
_pacers_lock = threading.Lock()


def shared_pacer(settings: SenderSettings) -> Pacer:
    """One pacer per process and rate, so successive sweeps share the budget."""
    key = (settings.rate_per_second, settings.burst)
    with _pacers_lock:
        if key not in _pacers:
            _pacers[key] = Pacer(settings.rate_per_second, settings.burst)
        return _pacers[key]


@dataclass
class SweepReport:
    expired: int = 0
    recovered: int = 0  # stalled sends found at the provider
    requeued: int = 0  # stalled sends the provider never got
    claimed: int = 0
    accepted: int = 0
    failed: int = 0
    retrying: int = 0
    uncertain: int = 0  # may have reached the provider: looked up before any resend
    errors: list[str] = field(default_factory=list)


def run_sender_sweep(
    session: Session,
    gateway: SmsGateway,
    settings: SenderSettings | None = None,
    *,
    pacer: Pacer | None = None,
    now: datetime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> SweepReport:
    """One pass of the sender (the scheduler job): expire, settle stalled sends, send."""
    settings = settings or SenderSettings()
    pacer = pacer or shared_pacer(settings)
    report = SweepReport()
    now = now or clock()
    report.expired = expire_overdue(session, now=now)
    settle_stalled_sends(session, gateway, settings, report=report, now=now)
    claimed = claim_due_messages(session, now=now, limit=settings.batch_size)
    report.claimed = len(claimed)
    if claimed:
        deliver_claimed(session, gateway, claimed, settings, pacer=pacer, report=report, clock=clock)
    return report


def expire_overdue(session: Session, *, now: datetime) -> int:
    """Texts still waiting when their validity ran out are not sent at all."""
    rows = session.scalars(
        select(Message)
        .where(Message.direction == Direction.OUTBOUND, Message.status == MessageStatus.QUEUED,
               Message.expires_at.is_not(None), Message.expires_at <= now)
        .order_by(Message.id)
    ).all()
    history: list[dict] = []
    for message in rows:
        record_status(session, message, MessageStatus.EXPIRED, source="outbox", error_code="expired",
                      error_message="Validity ran out before the text could be sent", now=now, history=history)
    write_status_events(session, history)
    session.commit()
    return len(rows)


def claim_due_messages(session: Session, *, now: datetime, limit: int) -> list[Message]:
    """Claim up to `limit` due texts for this process and commit the claim.

    The conditional update (`status = 'queued'`) is what makes a claim
    exclusive on every engine; on PostgreSQL SKIP LOCKED also keeps two
    senders from queueing behind each other's row locks. The claim is one
    UPDATE ... RETURNING (on PostgreSQL the due rows are chosen inside it),
    and the claimed rows' "sending" history one multi-row INSERT, whatever
    their number.
    """
    due = (
        select(Message.id)
        .where(
            Message.direction == Direction.OUTBOUND,
            Message.status == MessageStatus.QUEUED,
            Message.provider_id.is_(None),
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            or_(Message.expires_at.is_(None), Message.expires_at > now),
        )
        .order_by(Message.next_attempt_at, Message.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        chosen = Message.id.in_(due.with_for_update(skip_locked=True).scalar_subquery())
    else:
        ids = list(session.scalars(due))
        if not ids:
            session.commit()
            return []
        chosen = Message.id.in_(ids)
    token = secrets.token_hex(16)
    claimed = list(session.scalars(
        update(Message)
        .where(chosen, Message.status == MessageStatus.QUEUED, Message.provider_id.is_(None))
        .values(status=MessageStatus.SENDING, claim_token=token, claimed_at=now,
                attempts=Message.attempts + 1, status_changed_at=now)
        .returning(Message)
        .execution_options(synchronize_session=False, populate_existing=True)
    ))
    claimed.sort(key=lambda m: (m.next_attempt_at is None, m.next_attempt_at or now, m.id))
    write_status_events(session, [status_event_row(m.id, MessageStatus.SENDING, source="sender", at=now)
                                  for m in claimed])
    session.commit()
    return claimed


def send_request_for(message: Message, settings: SenderSettings, now: datetime) -> SendRequest | None:
    """What to hand the provider for this row; None when too little validity is left."""
    validity = None
    if message.expires_at is not None:
        validity = int((message.expires_at - now).total_seconds())
        if validity < MIN_VALIDITY_S:
            return None
        validity = min(validity, MAX_VALIDITY_S)
    callback = None
    if settings.status_callback_url:
        # The row id lets a callback find a row whose sender died before
        # recording the provider's id (crisis.messaging.services.apply_status_callback).
        callback = f"{settings.status_callback_url}?message={message.id}"
    return SendRequest(
        to=message.to_number or "",
        body=message.body,
        status_callback=callback,
        validity_period_s=validity,
        idempotency_key=message.idempotency_key or f"message-{message.id}",
    )


class _WorkerPool:
    """Sending threads kept from sweep to sweep, each with its own copy of the gateway
    (one HTTP session, its connections kept alive): a sweep hands work over at once
    instead of starting threads and opening connections."""

    def __init__(self, workers: int):
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sms-sender")
        self.local = threading.local()

    def gateway(self, gateway: SmsGateway) -> SmsGateway:
        if not hasattr(self.local, "gateway"):
            copy = getattr(gateway, "copy", None)
            self.local.gateway = copy() if callable(copy) else gateway
        return self.local.gateway


_worker_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_worker_pools_lock = threading.Lock()


def _worker_pool(gateway: SmsGateway, workers: int) -> _WorkerPool | None:
    """The gateway's pool of `workers` threads, stopped when the gateway is gone; None for a
    gateway that cannot be weakly referenced (the sweep then uses a pool of its own)."""
    with _worker_pools_lock:
        try:
            pool = _worker_pools.get(gateway)
        except TypeError:
            return None
        if pool is None or pool.workers != workers:
            if pool is not None:
                pool.executor.shutdown(wait=False)
            pool = _WorkerPool(workers)
            _worker_pools[gateway] = pool
            weakref.finalize(gateway, pool.executor.shutdown, wait=False)
        return pool


def deliver_claimed(
    session: Session,
    gateway: SmsGateway,
    claimed: list[Message],
    settings: SenderSettings,
    *,
    pacer: Pacer,
    report: SweepReport,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Send claimed rows on worker threads; record outcomes as they arrive (crisis.messaging.sender)."""
    now = clock()
    work: list[tuple[Message, str, SendRequest]] = []
    history: list[dict] = []
    for message in claimed:
        request = send_request_for(message, settings, now)
        if request is None:
            _release_and_expire(session, message, now, history)
            report.expired += 1
            continue
        work.append((message, message.claim_token or "", request))
    if history:
        write_status_events(session, history)
        session.commit()
    if not work:
        return
    paced = gateway.name != "outbox"  # nothing leaves the machine: nothing to pace
    key = gateway.sender_key

    def send(gw: SmsGateway, request: SendRequest):
        if paced:
            pacer.acquire(key)
        try:
            return gw.send(request), None
        except SendError as exc:
            return None, exc
        except Exception as exc:  # noqa: BLE001 - an unknown failure may have reached the provider
            log.exception("SMS gateway failed unexpectedly")
            return None, TransientSendError(f"{type(exc).__name__}: {exc}", may_have_been_sent=True)

    if len(work) == 1 or settings.workers <= 1 or gateway.name == "outbox":
        for message, token, request in work:
            result, error = send(gateway, request)
            _record_outcomes(session, gateway, settings, pacer, [(message, token, result, error)], report, clock())
        return
    pool = _worker_pool(gateway, settings.workers)
    own = pool is None
    if own:
        pool = _WorkerPool(min(settings.workers, len(work)))
    # The rows wait in one queue that each worker drains, and the answers come back on another:
    # handing 100 texts over costs this thread a few calls, not a future (and its lock) per text,
    # and waiting for answers does not lock every pending one, which the workers would wait on.
    todo = deque(work)
    answers: queue.SimpleQueue = queue.SimpleQueue()

    def drain() -> None:
        try:
            gw = pool.gateway(gateway)
            while True:
                try:
                    message, token, request = todo.popleft()
                except IndexError:
                    return
                answers.put((message, token, *send(gw, request)))
        except BaseException as exc:  # noqa: BLE001 - handed to the recording thread, which raises it
            answers.put(_WorkerFailed(exc))

    try:
        for _ in range(min(pool.workers, len(work))):
            pool.executor.submit(drain)
        remaining = len(work)
        while remaining:
            # Whatever finished while the last batch was being recorded is recorded together,
            # and what finishes within a moment after the first answer joins it: a batch costs
            # the same statements and one commit whatever its size.
            batch = [answers.get()]
            deadline = time.monotonic() + RECORD_GATHER_S
            while len(batch) < remaining:
                try:
                    batch.append(answers.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            failed = [a for a in batch if isinstance(a, _WorkerFailed)]
            if failed:
                todo.clear()  # start no more sends that nobody would record
            outcomes = [a for a in batch if not isinstance(a, _WorkerFailed)]
            if outcomes:
                _record_outcomes(session, gateway, settings, pacer, outcomes, report, clock())
            if failed:
                raise failed[0].error
            remaining -= len(batch)
    finally:
        if own:
            pool.executor.shutdown(wait=False)


@dataclass(frozen=True)
class _WorkerFailed:
    """A sending thread broke: its copy of the gateway could not be made, or a send raised
    what the sender does not handle (a BaseException: the process is going down)."""

    error: BaseException


Outcome = tuple[Message, str, "SendResult | None", "SendError | None"]


def _record_outcomes(
    session: Session,
    gateway: SmsGateway,
    settings: SenderSettings,
    pacer: Pacer,
    outcomes: list[Outcome],
    report: SweepReport,
    now: datetime,
) -> None:
    """Record what the provider said about these rows in one transaction.

    Committed at once: a crash before this commit leaves the rows claimed,
    and settle_stalled_sends finds them at the provider instead of sending
    them again. If one row cannot be recorded, the others are recorded one
    by one so a single bad row does not hold back the rest.

    A batch costs the same statements whatever its size: the rows read
    again, one UPDATE per set of changed columns (an executemany), and
    their history rows in one INSERT.
    """
    # A callback may have landed meanwhile: decide on the rows as they are now. The encrypted
    # number and text are not read again: they never change, and each would be decrypted anew.
    session.scalars(
        select(Message).where(Message.id.in_([o[0].id for o in outcomes]))
        .options(load_only(*PLAIN_COLUMNS))
        .execution_options(populate_existing=True)
    ).all()
    history: list[dict] = []
    try:
        kinds = []
        # One kind of answer at a time, each flushed on its own: the rows of one kind change the
        # same columns, so each kind is one executemany UPDATE however the kinds interleave.
        for group in _by_kind(outcomes):
            kinds += [_apply_outcome(session, gateway, settings, pacer, *outcome, now, history) for outcome in group]
            session.flush()
        write_status_events(session, history)
        session.commit()
    except Exception as exc:  # one row's bookkeeping must not stop the others
        session.rollback()
        if len(outcomes) > 1:
            log.warning("recording %d SMS outcomes together failed (%s); recording them one by one",
                        len(outcomes), type(exc).__name__, exc_info=True)
            for outcome in outcomes:
                _record_outcomes(session, gateway, settings, pacer, [outcome], report, now)
            return
        log.exception("could not record the outcome of SMS %s", outcomes[0][0].id)
        report.errors.append(f"{outcomes[0][0].id}: {type(exc).__name__}")
        return
    for kind in kinds:
        setattr(report, kind, getattr(report, kind) + 1)


def _by_kind(outcomes: list[Outcome]) -> list[list[Outcome]]:
    """Accepted, refused, may have been sent, to be retried: in that order, empty kinds left out."""
    groups: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        _, _, result, error = outcome
        kind = (0 if result is not None else 1 if isinstance(error, PermanentSendError)
                else 2 if isinstance(error, TransientSendError) and error.may_have_been_sent else 3)
        groups.setdefault(kind, []).append(outcome)
    return [groups[k] for k in sorted(groups)]


def _apply_outcome(
    session: Session,
    gateway: SmsGateway,
    settings: SenderSettings,
    pacer: Pacer,
    message: Message,
    token: str,
    result: SendResult | None,
    error: SendError | None,
    now: datetime,
    history: list[dict],
) -> str:
    """Put one provider answer on its row; returns the SweepReport counter it adds to."""
    if result is not None:
        _record_accepted(session, message, result, source=gateway.name, now=now, history=history)
        return "accepted"
    if isinstance(error, PermanentSendError):
        message.claim_token = None
        record_status(session, message, MessageStatus.FAILED, source="sender",
                      error_code=error.error_code or "refused", error_message=str(error), now=now, history=history)
        return "failed"
    if isinstance(error, TransientSendError) and error.may_have_been_sent:
        _await_settlement(message, token, str(error), error.error_code, now, settings)
        return "uncertain"
    assert error is not None
    if error.error_code == TWILIO_RATE_LIMIT_CODE or error.http_status == 429:
        pacer.hold(gateway.sender_key, 1.0)
    outcome = _retry_later(session, message, token, error, now, settings, history)
    return "retrying" if outcome == MessageStatus.QUEUED else "failed"


def _record_accepted(session: Session, message: Message, result: SendResult, *, source: str,
                     now: datetime, history: list[dict] | None = None) -> None:
    if message.provider_id is None:
        message.provider_id = result.provider_id
    elif message.provider_id != result.provider_id:
        log.error("message %s was sent twice: provider ids %s and %s",
                  message.id, message.provider_id, result.provider_id)
    message.claim_token = None
    message.next_attempt_at = None
    message.error_message = None
    record_status(session, message, MessageStatus(result.status), source=source,
                  error_code=result.error_code, error_message=result.error_message, now=now, history=history)


def _await_settlement(message: Message, token: str, detail: str, error_code, now: datetime,
                      settings: SenderSettings) -> None:
    """The request may have reached the provider: no resend until it has been looked up."""
    if message.claim_token != token or message.provider_id is not None:
        return
    message.claim_token = None
    message.next_attempt_at = now + settings.settle_after
    message.error_code = str(error_code) if error_code else message.error_code
    message.error_message = f"Outcome unknown, checking with the provider: {detail}"[:500]


def backoff(attempts: int, settings: SenderSettings) -> timedelta:
    """Exponential backoff with jitter: 5 s, 10 s, 20 s ... up to 5 minutes."""
    delay = settings.backoff_base * (2 ** max(attempts - 1, 0))
    delay = min(delay, settings.backoff_cap)
    return delay * random.uniform(0.8, 1.2)


def _retry_later(session: Session, message: Message, token: str, error: SendError, now: datetime,
                 settings: SenderSettings, history: list[dict] | None = None) -> MessageStatus:
    if message.claim_token != token or message.status != MessageStatus.SENDING:
        return message.status
    code = error.error_code or "transient"
    if message.attempts >= settings.max_attempts:
        message.claim_token = None
        record_status(session, message, MessageStatus.FAILED, source="sender", error_code=code,
                      error_message=f"Gave up after {message.attempts} attempts: {error}", now=now,
                      history=history)
        return MessageStatus.FAILED
    retry_at = now + backoff(message.attempts, settings)
    if message.expires_at is not None and retry_at >= message.expires_at:
        message.claim_token = None
        record_status(session, message, MessageStatus.EXPIRED, source="sender", error_code=code,
                      error_message=f"Validity runs out before the next attempt: {error}", now=now,
                      history=history)
        return MessageStatus.EXPIRED
    _requeue(message, retry_at, now, source="sender", error_code=str(code), detail=str(error), history=history)
    return MessageStatus.QUEUED


def _requeue(message: Message, at: datetime, now: datetime, *, source: str, error_code: str | None,
             detail: str | None, history: list[dict] | None = None) -> None:
    # Our own retry, not a provider's report: the one way a row goes back to queued.
    message.status = MessageStatus.QUEUED
    message.claim_token = None
    message.next_attempt_at = at
    message.status_changed_at = now
    if error_code:
        message.error_code = error_code
    if detail:
        message.error_message = detail[:500]
    if history is not None:
        history.append(status_event_row(message.id, MessageStatus.QUEUED, source=source, error_code=error_code,
                                        at=now))
    else:
        message.status_events.append(
            MessageStatusEvent(status=MessageStatus.QUEUED, error_code=error_code, source=source, at=now)
        )


def _release_and_expire(session: Session, message: Message, now: datetime,
                        history: list[dict] | None = None) -> None:
    message.claim_token = None
    record_status(session, message, MessageStatus.EXPIRED, source="sender", error_code="expired",
                  error_message="Validity ran out before the text could be sent", now=now, history=history)


def settle_stalled_sends(
    session: Session,
    gateway: SmsGateway,
    settings: SenderSettings,
    *,
    report: SweepReport,
    now: datetime,
    limit: int = 50,
) -> None:
    """Find out, at the provider, what became of sends that stalled.

    Stalled: claimed by a process that has not answered within the lease
    (it died between claim and send, or between send and record), or a
    request that failed in a way that may have reached the provider.
    """
    stale_before = now - settings.stale_claim_after
    alert_stale_before = now - settings.dispatch_claim_after
    stalled = and_(
        Message.direction == Direction.OUTBOUND,
        Message.status == MessageStatus.SENDING,
        Message.provider_id.is_(None),
        or_(
            and_(Message.claim_token.is_(None), Message.next_attempt_at <= now),
            and_(Message.claim_token.is_not(None), Message.claimed_at <= stale_before),
            # Dispatch alerts have a short lease (issue 14); reminders keep the long one.
            and_(Message.claim_token.is_not(None), Message.dispatch_id.is_not(None),
                 Message.claimed_at <= alert_stale_before),
        ),
    )
    ids = list(session.scalars(select(Message.id).where(stalled).order_by(Message.id).limit(limit)))
    for message_id in ids:
        token = secrets.token_hex(16)
        taken = session.execute(
            update(Message).where(Message.id == message_id, stalled)
            .values(claim_token=token, claimed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if not taken:
            continue  # another sender is settling it
        message = session.scalars(
            select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
        ).one()
        since = message.status_changed_at or message.created_at
        try:
            found = gateway.find_sent(message.to_number or "", message.body, since)
        except SendError as exc:
            message.claim_token = None
            message.next_attempt_at = now + backoff(message.attempts, settings)
            message.error_message = f"Could not ask the provider about a stalled send: {exc}"[:500]
            session.commit()
            report.errors.append(f"{message_id}: lookup failed")
            continue
        if found is not None:
            adopt_provider_message(session, message, found.provider_id, source="reconcile", now=now)
            message.error_message = None  # the outcome is known now
            record_status(session, message, MessageStatus(found.status), source="reconcile",
                          error_code=found.error_code, error_message=found.error_message, now=now)
            report.recovered += 1
            log.warning("stalled SMS %s had reached the provider; recorded, not sent again", message_id)
        elif message.expires_at is not None and message.expires_at <= now:
            message.claim_token = None
            record_status(session, message, MessageStatus.EXPIRED, source="reconcile", error_code="expired",
                          error_message="Validity ran out while a stalled send was settled", now=now)
            report.expired += 1
        elif message.attempts >= settings.max_attempts:
            message.claim_token = None
            record_status(session, message, MessageStatus.FAILED, source="reconcile",
                          error_code="stalled",
                          error_message=f"Gave up after {message.attempts} stalled attempts", now=now)
            report.failed += 1
        else:
            _requeue(message, now, now, source="reconcile", error_code=None,
                     detail="The provider never got a stalled send; queued again")
            report.requeued += 1
        session.commit()
