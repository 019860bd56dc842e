"""Committed texts wake the sender at once; rolled-back ones do not."""

from __future__ import annotations

import os
import threading
import time

import pytest

from crisis.messaging import wake
from crisis.messaging.services import queue_sms


@pytest.fixture
def wakes():
    calls: list[float] = []
    waker = lambda: calls.append(time.monotonic())  # noqa: E731
    wake.add_local_waker(waker)
    yield calls
    wake.remove_local_waker(waker)


def test_a_committed_text_wakes_the_sender_once_per_transaction(app_ctx, session, wakes):
    for n in range(3):
        queue_sms(session, to=f"+4670174060{n}", body="Larm", purpose="dispatch", idempotency_key=f"w{n}")
    assert wakes == []  # not before the commit
    session.commit()
    assert len(wakes) == 1


def test_a_rolled_back_text_wakes_nobody(app_ctx, session, wakes):
    queue_sms(session, to="+46701740605", body="Larm", purpose="dispatch", idempotency_key="rolled-back")
    session.rollback()
    session.commit()
    assert wakes == []


@pytest.mark.skipif(not os.environ.get("LIVE_TEST_REDIS_URL"), reason="needs LIVE_TEST_REDIS_URL (a Redis to use)")
def test_another_process_wakes_the_scheduler_through_redis():
    url = os.environ["LIVE_TEST_REDIS_URL"]
    woken = threading.Event()
    stop = threading.Event()
    wake.listen_for_wakeups(url, woken.set, stop)
    try:
        deadline = time.monotonic() + 5
        while not woken.is_set() and time.monotonic() < deadline:
            wake.wake_sender(url)  # the subscription may take a moment to start
            woken.wait(0.2)
        assert woken.is_set()
    finally:
        stop.set()
