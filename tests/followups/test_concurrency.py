"""Two scheduler processes and a kill -9: each reminder is queued exactly once, none is lost.

Real subprocesses (tests/followups/sweep_worker.py) sweep the same
PostgreSQL database. On SQLite these are skipped: a SQLite file has one
writer at a time, so there is no race between processes to prove there; the
claim protocol's SQLite path (the conditional UPDATE) is exercised in
test_reminders.py, including a claim taken over after going stale.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from crisis.followups.models import FollowUp
from crisis.followups.reminders import CLAIM_STALE_AFTER
from tests.followups.helpers import NOW, events, local, outbox

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgresql")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        not ON_POSTGRESQL,
        reason="multi-process sweeps need PostgreSQL (FOR UPDATE SKIP LOCKED); a SQLite file runs "
               "one writer at a time, and its claim path is covered in test_reminders.py",
    ),
]

FOLLOW_UPS = 1000


@pytest.fixture
def thousand_due(session, followup_setup, create_relative):
    """1,000 follow-ups due today, spread over ten relatives, owned by one worker."""
    incident, worker = followup_setup["incident"], followup_setup["worker"]
    relatives = [followup_setup["relative"]] + [create_relative(incident, consent="given") for _ in range(9)]
    due = local(2026, 6, 22, 9)
    rows = [
        {"incident_id": incident.id, "relative_id": relatives[n % 10].id, "key": f"followup:bulk-{n}",
         "label": "1w", "planned_due_at": due, "due_at": due + timedelta(seconds=n), "acute": False,
         "channel": "phone", "owner_user_id": worker.id, "status": "planned", "attempts": 0, "version": 1,
         "created_at": NOW, "updated_at": NOW}
        for n in range(FOLLOW_UPS)
    ]
    session.execute(insert(FollowUp), rows)
    session.commit()
    return [r[0] for r in session.execute(select(FollowUp.id).order_by(FollowUp.id))]


def start_worker(database_url: str, now, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.followups.sweep_worker", "--database-url", database_url,
         "--now", now.isoformat(), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DATABASE_URL": database_url},
    )


def finish(worker: subprocess.Popen, timeout: float = 180) -> dict:
    out, err = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def assert_each_reminded_exactly_once(session, ids: list[int]) -> None:
    session.expire_all()
    messages = outbox(session, "followup_reminder")
    keys = Counter(m.idempotency_key for m in messages)
    assert len(messages) == len(ids), f"{len(messages)} reminders for {len(ids)} follow-ups"
    assert max(keys.values()) == 1
    reminded = Counter(int(key.split(":")[1]) for key in keys)
    assert set(reminded) == set(ids)
    sent_events = Counter(e.subject_id for e in events(session, "followup.reminder_sent"))
    assert set(sent_events) == set(ids) and max(sent_events.values()) == 1
    assert session.scalar(select(func.count()).select_from(FollowUp).where(
        FollowUp.reminder_sent_at.is_(None))) == 0
    assert session.scalar(select(func.count()).select_from(FollowUp).where(
        FollowUp.claim_token.is_not(None))) == 0


def test_two_scheduler_processes_send_each_of_1000_reminders_once(
        session, database_url, thousand_due, tmp_path):
    start = tmp_path / "go"
    workers = [start_worker(database_url, NOW, "--batch-size", "20", "--start-file", str(start))
               for _ in range(2)]
    time.sleep(1.0)  # both import the app and wait at the start line
    start.touch()
    reports = [finish(w) for w in workers]

    assert_each_reminded_exactly_once(session, thousand_due)
    sent = [set(r["sent_ids"]) for r in reports]
    assert not sent[0] & sent[1]
    assert sent[0] | sent[1] == set(thousand_due)
    # Both really worked at the same time (otherwise this proves nothing).
    assert all(len(s) > 0 for s in sent), [len(s) for s in sent]


def test_kill_9_mid_sweep_then_restart_loses_none_and_sends_none_twice(
        session, database_url, thousand_due, tmp_path):
    marker = tmp_path / "stalled"
    victim = start_worker(database_url, NOW, "--batch-size", "100", "--stall-after", "150",
                          "--marker", str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the worker never reached the middle of its second batch"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    # The first batch committed; the second died with its transaction: its
    # 100 rows are claimed, not reminded, and nothing of it reached the outbox.
    session.expire_all()
    assert len(outbox(session, "followup_reminder")) == 100
    claimed = session.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.claim_token.is_not(None)))
    assert claimed == 100

    # A restart at once leaves the fresh claims alone and sends the rest ...
    restarted = finish(start_worker(database_url, NOW + timedelta(minutes=1), "--batch-size", "100"))
    assert len(restarted["sent_ids"]) == FOLLOW_UPS - 200
    assert len(outbox(session, "followup_reminder")) == FOLLOW_UPS - 100
    # ... and once the dead process's claims are stale they are released and sent.
    later = NOW + CLAIM_STALE_AFTER + timedelta(minutes=2)
    recovered = finish(start_worker(database_url, later, "--batch-size", "100"))
    assert recovered["released"] == 100
    assert len(recovered["sent_ids"]) == 100

    assert_each_reminded_exactly_once(session, thousand_due)
    session.expire_all()
    attempts = Counter(session.scalars(select(FollowUp.attempts)))
    assert attempts == {1: FOLLOW_UPS - 100, 2: 100}
