"""Benchmark: the follow-up reminder sweep over 10,000 due follow-ups on PostgreSQL.

    .venv/bin/python bench/sweep.py [--follow-ups 10000] [--batch-size 200] [--workers 1]

Creates its own database (crisis_bench_sweep_test), migrates it, inserts the
due follow-ups, runs the sweep (claim, queue the outbox row, mark, record the
timeline event, batch by batch) until nothing is due, checks that every
follow-up got exactly one reminder, prints the sweep time and rows per
second, and drops the database. `--workers N` runs N sweeping processes at
once, as a mistakenly doubled scheduler would.

The server is PostgreSQL at BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DATABASE = "crisis_bench_sweep_test"
SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Monday 22 June 2026, 10:00 in Stockholm: inside the reminder hours.
NOW = datetime(2026, 6, 22, 10, 0, tzinfo=STOCKHOLM).astimezone(UTC)


def database_url() -> str:
    return make_url(SERVER).set(database=DATABASE).render_as_string(hide_password=False)


def recreate_database() -> None:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()


def drop_database() -> None:
    from crisis.core.db import db

    if db.engine is not None:
        db.session.remove()
        db.engine.dispose()
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    admin.dispose()


def make_app():
    from crisis import create_app
    from crisis.core.config import load_settings

    environ = dict(os.environ, DATABASE_URL=database_url())
    environ.pop("CRISIS_ENV", None)
    return create_app(load_settings(environ))


def seed(session, count: int) -> None:
    """Ten incidents of ten relatives each, the follow-ups spread over them, owned by five workers."""
    from crisis.auth.models import Role, User, UserRole
    from crisis.followups.models import FollowUp
    from crisis.incidents.models import Incident, Relative
    from crisis.organisation.models import District
    from crisis.playbooks.engine import find_playbook, pin_snapshot

    district = District(code="bench", name="Bänkdistrikt", has_own_sig=True)
    session.add(district)
    session.flush()
    workers = []
    for n in range(5):
        user = User(email=f"bench{n}@example.se", name=f"Bänk {n}", phone=f"+4670155000{n}",
                    district_id=district.id)
        user.role_rows = [UserRole(role=Role.OUTREACH)]
        workers.append(user)
    coordinator = User(email="bench-coordinator@example.se", name="Bänksamordnare", phone="+46701550099",
                       district_id=district.id)
    coordinator.role_rows = [UserRole(role=Role.COORDINATOR)]
    session.add_all([*workers, coordinator])
    snapshot = pin_snapshot(session, find_playbook("stockholm-skjutning"))
    relatives = []
    for n in range(10):
        incident = Incident(reference=f"BENCH{n}", type="shooting", occurred_at=NOW - timedelta(days=8),
                            district_id=district.id, coordinator=coordinator, playbook_snapshot_id=snapshot.id)
        session.add(incident)
        session.flush()
        for m in range(10):
            relative = Relative(incident_id=incident.id, label=f"Anhörig {m + 1}", relation="parent",
                                consent="given", age_band="26-64")
            session.add(relative)
            relatives.append(relative)
    session.flush()
    due = NOW - timedelta(hours=1)
    session.execute(insert(FollowUp), [
        {"incident_id": relatives[n % 100].incident_id, "relative_id": relatives[n % 100].id,
         "key": f"followup:bench-{n}", "label": "1w", "planned_due_at": due, "due_at": due + timedelta(seconds=n % 3600),
         "acute": False, "channel": "phone", "owner_user_id": workers[n % 5].id, "status": "planned",
         "attempts": 0, "version": 1, "created_at": NOW, "updated_at": NOW}
        for n in range(count)
    ])
    session.commit()


def sweep_in_process(batch_size: int) -> tuple[int, int]:
    """One scheduler process sweeping until nothing is due: (reminders sent, batches)."""
    from crisis.core.db import db
    from crisis.followups.reminders import run_reminder_sweep

    app = make_app()
    with app.app_context():
        report = run_reminder_sweep(db.session, now=NOW, batch_size=batch_size)
        db.session.remove()
    return report.sent, report.batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow-ups", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from crisis.core import migrate
    from crisis.core.db import db

    recreate_database()
    try:
        app = make_app()
        migrate.upgrade(db.engine)
        with app.app_context():
            seed(db.session, args.follow_ups)
            db.session.remove()
        db.engine.dispose()  # no pooled connections shared with forked workers

        started = time.perf_counter()
        if args.workers == 1:
            results = [sweep_in_process(args.batch_size)]
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(args.workers) as pool:
                results = pool.map(sweep_in_process, [args.batch_size] * args.workers)
        elapsed = time.perf_counter() - started

        with app.app_context():
            from crisis.followups.models import FollowUp
            from crisis.messaging.models import Message

            queued = db.session.scalar(select(func.count()).select_from(Message).where(
                Message.purpose == "followup_reminder"))
            distinct = db.session.scalar(select(func.count(func.distinct(Message.idempotency_key))).where(
                Message.purpose == "followup_reminder"))
            unmarked = db.session.scalar(select(func.count()).select_from(FollowUp).where(
                FollowUp.reminder_sent_at.is_(None)))
            db.session.remove()
        sent = sum(r[0] for r in results)
        batches = sum(r[1] for r in results)
        ok = queued == distinct == sent == args.follow_ups and unmarked == 0
        print(f"follow-ups due:        {args.follow_ups}")
        print(f"scheduler processes:   {args.workers}")
        print(f"batch size:            {args.batch_size} ({batches} batches)")
        print(f"reminders queued:      {queued} ({distinct} distinct keys, {unmarked} follow-ups unmarked)")
        print(f"sweep time:            {elapsed:.2f} s")
        print(f"rows per second:       {args.follow_ups / elapsed:,.0f}")
        print("exactly once:          " + ("yes" if ok else "NO"))
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    sys.exit(main())
