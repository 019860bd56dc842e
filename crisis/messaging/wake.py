"""Waking the SMS sender when texts are committed, so the first one leaves at once.

The sender is a scheduler sweep (crisis.messaging.jobs, every 2 s). A
dispatch should not wait for the next tick: once a transaction that queued
texts commits, the sender is asked to run now.

- In the process that runs the scheduler (`make run`, `crisis scheduler`),
  the scheduler's job is moved to now directly.
- Across processes (web processes and the one scheduler, REDIS_URL set), the
  committing process publishes on a Redis channel the scheduler listens to.

A lost wake-up costs nothing but time: the interval job still runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from crisis.core.db import after_commit, pending_after_commit

log = logging.getLogger(__name__)

CHANNEL = "crisis:sms-wake"

_local_wakers: list[Callable[[], None]] = []
_redis_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def add_local_waker(waker: Callable[[], None]) -> None:
    if waker not in _local_wakers:
        _local_wakers.append(waker)


def remove_local_waker(waker: Callable[[], None]) -> None:
    if waker in _local_wakers:
        _local_wakers.remove(waker)


def _redis_url() -> str | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    url = current_app.config.get("REDIS_URL")
    return url if isinstance(url, str) and url.startswith(("redis://", "rediss://")) else None


def _redis(url: str):
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            _redis_clients[url] = client
        return client


def wake_sender_after_commit(session: Session) -> None:
    """Ask the sender to run as soon as this transaction commits (once per transaction)."""
    if any(getattr(callback, "_wakes_sender", False) for callback in pending_after_commit(session)):
        return
    url = _redis_url()

    def wake() -> None:
        wake_sender(url)

    wake._wakes_sender = True  # type: ignore[attr-defined]
    after_commit(session, wake)  # dropped on rollback (crisis.core.db)


def wake_sender(redis_url: str | None = None) -> None:
    for waker in list(_local_wakers):
        try:
            waker()
        except Exception:  # noqa: BLE001 - the interval job still runs
            log.exception("waking the SMS sender in-process failed")
    if redis_url:
        try:
            _redis(redis_url).publish(CHANNEL, b"1")
        except Exception:  # noqa: BLE001 - the interval job still runs
            log.warning("could not wake the SMS sender through Redis; it runs at its next interval")


def listen_for_wakeups(redis_url: str, waker: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """In the scheduler process: call `waker` whenever another process committed texts."""

    def run() -> None:
        while not stop.is_set():
            try:
                pubsub = _redis(redis_url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        waker()
            except Exception:  # noqa: BLE001 - Redis went away: retry, the interval job covers meanwhile
                log.warning("SMS wake-up listener lost Redis; retrying")
                stop.wait(2.0)

    thread = threading.Thread(target=run, name="sms-wake-listener", daemon=True)
    thread.start()
    return thread
