"""Benchmark: the follow-up reminder sweep over 10,000 due follow-ups on PostgreSQL, two schedulers.

    .venv/bin/python bench/sweep.py [--follow-ups 10000] [--batch-size 200] [--workers 2] [--rounds 3]
                                    [--postgres-url URL]

Creates a database of its own (bench/common.py), migrates it and, round by
round, inserts the due follow-ups and runs `--workers` sweeping processes at
once (as a mistakenly doubled scheduler would) until nothing is due, then
checks that every follow-up got exactly one reminder. Rounds alternate:

- product: the sweep as shipped (each batch in a fixed number of statements);
- baseline: the same sweep with each reminder written on its own (its own
  outbox insert and flush, status row, timeline event and publish), as the
  sweep did before the bulk path.

Prints p50/p95 of both side by side and writes instance/bench/sweep-*.json.
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

from sqlalchemy import func, insert, select  # noqa: E402

from bench.common import (  # noqa: E402
    add_server_argument,
    alternate,
    own_database,
    side_by_side,
    stats,
    write_summary,
)
from bench.pages import analyze  # noqa: E402

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Monday 22 June 2026, 10:00 in Stockholm: inside the reminder hours.
NOW = datetime(2026, 6, 22, 10, 0, tzinfo=STOCKHOLM).astimezone(UTC)


def make_app(database_url: str):
    from crisis import create_app
    from crisis.core.config import load_settings

    environ = dict(os.environ, DATABASE_URL=database_url)
    environ.pop("CRISIS_ENV", None)
    environ.pop("REDIS_URL", None)
    app = create_app(load_settings(environ))
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    return app


_PRODUCT_BATCH = None


def use_baseline(baseline: bool) -> None:
    """Write each reminder on its own, as before the bulk path (same checks, same texts); or not.

    Pool processes are reused between rounds: the product's own path is put back for a product round."""
    global _PRODUCT_BATCH
    from crisis.followups import reminders

    if _PRODUCT_BATCH is None:
        _PRODUCT_BATCH = reminders._remind_batch

    def one_by_one(session, rows, now, texts):
        return [(f, reminders._remind(session, f, now, texts)) for f in rows]

    reminders._remind_batch = one_by_one if baseline else _PRODUCT_BATCH


def empty_tables() -> None:
    from crisis.core.db import db
    from crisis.models import Base

    db.session.remove()
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


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


def sweep_in_process(job: tuple[str, int, str]) -> tuple[int, int, float, float]:
    """One scheduler process sweeping until nothing is due: (reminders sent, batches, start, end).

    The clock starts once the app is built (process start-up is not the sweep's cost)."""
    database_url, batch_size, kind = job
    from crisis.core.db import db
    from crisis.followups.reminders import run_reminder_sweep

    use_baseline(kind == "baseline")
    app = make_app(database_url)
    with app.app_context():
        started = time.time()
        report = run_reminder_sweep(db.session, now=NOW, batch_size=batch_size)
        ended = time.time()
        db.session.remove()
    return report.sent, report.batches, started, ended


def one_round(app, database_url: str, args, kind: str, pool) -> dict:
    from crisis.core.db import db
    from crisis.followups.models import FollowUp
    from crisis.messaging.models import Message

    empty_tables()
    with app.app_context():
        seed(db.session, args.follow_ups)
        analyze(db.session)  # statistics, as a server in use has them (bench/pages.py)
        db.session.remove()
    db.engine.dispose()  # no pooled connections shared with the workers
    results = pool.map(sweep_in_process, [(database_url, args.batch_size, kind)] * args.workers)
    # From the first scheduler's start to the last one's end.
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    with app.app_context():
        queued = db.session.scalar(select(func.count()).select_from(Message).where(
            Message.purpose == "followup_reminder"))
        distinct = db.session.scalar(select(func.count(func.distinct(Message.idempotency_key))).where(
            Message.purpose == "followup_reminder"))
        unmarked = db.session.scalar(select(func.count()).select_from(FollowUp).where(
            FollowUp.reminder_sent_at.is_(None)))
        db.session.remove()
    sent = sum(r[0] for r in results)
    ok = queued == distinct == sent == args.follow_ups and unmarked == 0
    return {"kind": kind, "seconds": elapsed, "sent": sent, "queued": queued, "batches": sum(r[1] for r in results),
            "per_worker": [r[0] for r in results], "exactly_once": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow-ups", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="product rounds only")
    add_server_argument(parser)
    args = parser.parse_args()

    from crisis.core import migrate
    from crisis.core.db import db

    rounds: list[dict] = []
    with own_database(args.postgres_url, "sweep") as database_url:
        app = make_app(database_url)
        migrate.upgrade(db.engine)
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.workers) as pool:
            for n, kind in alternate(args.rounds):
                if kind == "baseline" and args.no_baseline:
                    continue
                result = one_round(app, database_url, args, kind, pool)
                rounds.append({"round": n, **result})
                print(f"round {n} {kind:<8} {result['seconds']:7.2f} s  {args.follow_ups / result['seconds']:8,.0f} "
                      f"rows/s  per worker {result['per_worker']}  exactly once: "
                      f"{'yes' if result['exactly_once'] else 'NO'}", flush=True)
        db.session.remove()
        db.engine.dispose()
    product = [r["seconds"] for r in rounds if r["kind"] == "product"]
    baseline = [r["seconds"] for r in rounds if r["kind"] == "baseline"]
    print(side_by_side(f"sweep {args.follow_ups} due, {args.workers} schedulers", product, baseline))
    ok = all(r["exactly_once"] for r in rounds)
    print("exactly once in every round: " + ("yes" if ok else "NO"))
    path = write_summary("sweep", {"follow_ups": args.follow_ups, "workers": args.workers,
                                   "batch_size": args.batch_size, "rounds": rounds,
                                   "product": stats(product), "baseline": stats(baseline), "exactly_once": ok})
    print(f"summary: {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
