"""Benchmark: dispatch to 100 recipients through the real twilio SDK against the local fake.

    .venv/bin/python bench/dispatch.py [--recipients 100] [--latency-ms 100] [--rounds 3]
                                       [--postgres-url URL | --sqlite] [--fake-in-process]

Measures, from the coordinator's dispatch to the moment Twilio (the fake,
answering each API request after --latency-ms, as Twilio's API takes tens
to hundreds of milliseconds) has accepted every alert:

- one by one: the sender with a single worker, each request waiting for
  the previous answer (the baseline);
- the sender as it runs in production (crisis.messaging.sender defaults:
  concurrent requests, paced per sender at SMS_SEND_RATE per second).

Both go through the same path: the dispatch writes its outbox rows in one
transaction, sweeps claim them, send them and record Twilio's SID. Each run
checks that every recipient got exactly one message. Rounds alternate; p50
and p95 are printed side by side, with the pacing limit, the first text's
hand-over after the commit, and the database's own cost (a zero-latency fake,
pacing off). The database is one of its own on PostgreSQL (--postgres-url,
bench/common.py) or, with --sqlite, a temporary SQLite file.

The fake Twilio runs in a process of its own (tests.fake_twilio.FakeTwilioProcess),
as Twilio runs on machines of its own: the measured process pays for the
sender, the database work and the Twilio SDK, not for the fake parsing each
request and building each answer, and the fake does not compete with the
sender for its interpreter lock. Like Twilio's API, the fake keeps each HTTP
connection alive between requests. The fake's own CPU is printed apart.
--fake-in-process runs the fake inside the measured process instead, as this
bench did until December 2026, when the fake also closed the connection after
every answer: the zero-latency figure then included the fake's work (about
0.75 ms a text) and a new connection for every text.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.pages import analyze  # noqa: E402

# The range PTS reserves for fiction: 070-174 06 05 … 99, then 08-465 004 00 … 99.
FICTION = [f"+467017406{n:02d}" for n in range(5, 100)] + [f"+468465004{n:02d}" for n in range(100)]


def make_app(database_url: str, fake):
    from crisis import create_app
    from crisis.core import migrate
    from crisis.core.config import load_settings
    from crisis.core.db import db

    environ = dict(os.environ, DATABASE_URL=database_url, PUBLIC_BASE_URL="https://crisis.example.se",
                   SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
                   TWILIO_FROM=fake.phone_number, TWILIO_API_BASE=fake.base_url)
    environ.pop("CRISIS_ENV", None)
    environ.pop("TWILIO_MESSAGING_SERVICE_SID", None)
    app = create_app(load_settings(environ))
    migrate.upgrade(db.engine)
    logging.getLogger().setLevel(logging.WARNING)  # the JSON log would drown the result
    return app


def empty_tables() -> None:
    from crisis.core.db import db
    from crisis.models import Base

    db.session.remove()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def seed(session, recipients: int):
    """A district, a coordinator, `recipients` outreach staff with phones, an incident on the shipped plan."""
    import secrets

    from crisis.auth.models import Role, User, UserRole
    from crisis.core.db import utcnow
    from crisis.incidents.models import Incident
    from crisis.organisation.models import District
    from crisis.playbooks.engine import find_playbook, pin_snapshot

    district = District(code="farsta", name="Farsta", has_own_sig=True)
    session.add(district)
    session.flush()

    def staff(n: int, role: Role, phone: str) -> User:
        user = User(email=f"bench{n}@demo.crisis.se", name=f"Bench {n}", phone=phone, district_id=district.id)
        user.role_rows = [UserRole(role=role)]
        session.add(user)
        return user

    coordinator = staff(0, Role.COORDINATOR, FICTION[-1])
    people = [staff(i + 1, Role.OUTREACH, FICTION[i]) for i in range(recipients)]
    snapshot = pin_snapshot(session, find_playbook("stockholm-skjutning"))
    incident = Incident(reference=secrets.token_hex(3).upper(), type="shooting", outcome="injured",
                        occurred_at=utcnow(), district_id=district.id, coordinator_id=coordinator.id,
                        playbook_snapshot_id=snapshot.id)
    session.add(incident)
    session.commit()
    session.expire_all()  # enums as enums, as a fresh request would see them
    return coordinator, people, session.get(Incident, incident.id)


def run(app, fake, recipients: int, settings) -> dict:
    """Seconds from the dispatch to Twilio having accepted every alert, the database's share, the first text.

    Also the CPU each part costs this process (time.process_time: the sender's
    calling thread and its worker threads, and the fake when it runs in this
    process), the fake's own process's CPU when it has one, and the statements
    each part sends, which a busy machine does not blur.
    """
    from datetime import UTC, datetime

    from crisis.auth.models import User
    from crisis.core.db import db
    from crisis.dispatch.services import dispatch_staff
    from crisis.messaging.models import Message
    from crisis.messaging.sender import Pacer, get_gateway, run_sender_sweep
    from tests.statements import counting_statements

    empty_tables()
    fake.reset()
    with app.app_context():
        session = db.session
        coordinator, people, incident = seed(session, recipients)
        analyze(session)  # statistics, as a server in use has them (bench/pages.py)
        ids = [p.id for p in people]
        gateway = get_gateway(app)
        pacer = Pacer(settings.rate_per_second, settings.burst)  # a fresh budget for each run
        fake_cpu = getattr(fake, "cpu_seconds", None)  # the fake in a process of its own
        fake_cpu_start = fake_cpu() if fake_cpu else 0.0
        start, cpu_start = time.perf_counter(), time.process_time()
        with counting_statements(db.engine) as dispatch_statements:
            # As the dispatch form and the API do: everyone named, loaded with one query.
            found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
            dispatch_staff(session, incident=incident, users=[found[i] for i in ids], actor=coordinator)
            session.commit()
        committed_at, db_seconds = datetime.now(UTC), time.perf_counter() - start
        dispatch_cpu, sender_cpu_start = time.process_time() - cpu_start, time.process_time()
        sender_thread_start = time.thread_time()
        # The commit wakes the sender (crisis.messaging.wake); here the sweep simply runs at once.
        with counting_statements(db.engine) as sender_statements:
            while session.scalar(select(func.count(Message.id)).where(Message.provider_id.is_(None))):
                run_sender_sweep(session, gateway, settings, pacer=pacer)
        elapsed = time.perf_counter() - start
        sender_cpu, sender_thread_cpu = time.process_time() - sender_cpu_start, time.thread_time() - sender_thread_start
        fake_cpu_s = fake_cpu() - fake_cpu_start if fake_cpu else None
        accepted = sorted(m.to for m in fake.messages)
        if accepted != sorted(p.phone for p in people):
            raise SystemExit(f"expected one message per recipient, Twilio got {len(accepted)}")
        first = min(m.date_created for m in fake.messages)
        db.session.remove()
    return {"seconds": elapsed, "db_seconds": db_seconds,
            "first_accepted_after_commit_s": (first - committed_at).total_seconds(),
            "dispatch_cpu_s": dispatch_cpu, "dispatch_statements": dispatch_statements.count,
            "sender_cpu_s": sender_cpu, "sender_thread_cpu_s": sender_thread_cpu,
            "sender_statements": sender_statements.count, "fake_cpu_s": fake_cpu_s}


def main() -> None:
    from dataclasses import replace

    from bench.common import (
        add_server_argument,
        alternate,
        own_database,
        side_by_side,
        stats,
        write_summary,
    )
    from crisis.messaging.sender import settings_from_config
    from tests.fake_twilio import FakeTwilio, FakeTwilioProcess

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the fake's answer time per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    parser.add_argument("--fake-in-process", action="store_true",
                        help="run the fake Twilio inside the measured process (the former method), "
                             "not in a process of its own")
    add_server_argument(parser)
    args = parser.parse_args()
    if not 1 <= args.recipients < len(FICTION):
        raise SystemExit(f"--recipients must be 1 to {len(FICTION)} (the numbers reserved for fiction)")

    fake_class = FakeTwilio if args.fake_in_process else FakeTwilioProcess
    with tempfile.TemporaryDirectory() as tmp, fake_class(latency_s=args.latency_ms / 1000) as fake:
        database = (nullcontext(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}") if args.sqlite
                    else own_database(args.postgres_url, "dispatch"))
        with database as database_url:
            app = make_app(database_url, fake)
            from crisis.messaging.sender import get_gateway

            production = settings_from_config(app.config, get_gateway(app))
            one_by_one = replace(production, workers=1)
            unpaced = replace(production, rate_per_second=0)
            runs: dict[str, list[dict]] = {"product": [], "baseline": [], "db_only": []}
            for _, kind in alternate(args.rounds):
                runs[kind].append(run(app, fake, args.recipients, production if kind == "product" else one_by_one))
            fake.latency_s = 0.0
            for _ in range(args.rounds):  # the database's cost per recipient: no latency, no pacing
                runs["db_only"].append(run(app, fake, args.recipients, unpaced))
            from crisis.core.db import db

            db.session.remove()
            db.engine.dispose()

    sender = (f"sender ({production.workers} workers, paced {production.rate_per_second:g}/s "
              f"per sender, burst {production.burst})")
    dispatch_db_product = [r["db_seconds"] for r in runs["product"]]
    limit = max(0.0, (args.recipients - production.burst) / production.rate_per_second) \
        if production.rate_per_second else 0.0
    where = "inside this process" if args.fake_in_process else "in a process of its own"
    print(f"dispatch to {args.recipients} recipients, fake Twilio answering in {args.latency_ms:.0f} ms "
          f"({where}, connections kept alive), {make_url(database_url).get_backend_name()}, "
          f"{args.rounds} rounds each, alternating:")
    print(side_by_side(f"{sender} vs one by one", [r["seconds"] for r in runs["product"]],
                       [r["seconds"] for r in runs["baseline"]]))
    print(f"  pacing limit (first {production.burst} at once, then {production.rate_per_second:g}/s): {limit:.2f} s; "
          f"with the dispatch transaction before it and the last request's {args.latency_ms:.0f} ms after it: "
          f"{limit + stats(dispatch_db_product)['p50'] + args.latency_ms / 1000:.2f} s")
    first = [r["first_accepted_after_commit_s"] for r in runs["product"]]
    print(f"  first text accepted by Twilio after the commit: p50 {stats(first)['p50'] * 1000:.0f} ms "
          f"(includes the fake's {args.latency_ms:.0f} ms)")
    db_only = [r["seconds"] for r in runs["db_only"]]
    dispatch_db = [r["db_seconds"] for r in runs["product"] + runs["db_only"]]
    everything = runs["product"] + runs["db_only"]
    cpu = {k: stats([r[k] * 1000 for r in everything]) for k in ("dispatch_cpu_s",)}
    sender_cpu = stats([r["sender_cpu_s"] * 1000 for r in runs["db_only"]])
    sender_thread = stats([r["sender_thread_cpu_s"] * 1000 for r in runs["db_only"]])
    print(f"  zero-latency fake, pacing off, everything sent: p50 {stats(db_only)['p50']:.3f} s; "
          f"the dispatch transaction alone: p50 {stats(dispatch_db)['p50'] * 1000:.0f} ms "
          f"({stats(dispatch_db)['p50'] * 1000 / args.recipients:.2f} ms per recipient)")
    print(f"  CPU of this process: the dispatch transaction p50 {cpu['dispatch_cpu_s']['p50']:.0f} ms "
          f"p95 {cpu['dispatch_cpu_s']['p95']:.0f} ms ({cpu['dispatch_cpu_s']['p50'] / args.recipients:.2f} ms "
          f"per recipient, {everything[-1]['dispatch_statements']} statements); sending, zero latency and no "
          f"pacing: p50 {sender_cpu['p50']:.0f} ms p95 {sender_cpu['p95']:.0f} ms, of which the sender's own "
          f"thread (claim and record) p50 {sender_thread['p50']:.0f} ms, "
          f"{runs['db_only'][-1]['sender_statements']} statements; the rest is the Twilio SDK on the worker "
          f"threads{' and the fake itself' if args.fake_in_process else ''}")
    if not args.fake_in_process:
        fake_cpu = stats([r["fake_cpu_s"] * 1000 for r in runs["db_only"]])
        print(f"  CPU of the fake Twilio's own process (not counted above), zero latency: p50 "
              f"{fake_cpu['p50']:.0f} ms p95 {fake_cpu['p95']:.0f} ms for {args.recipients} texts")
    path = write_summary("dispatch", {"recipients": args.recipients, "latency_ms": args.latency_ms,
                                      "fake": "in-process" if args.fake_in_process else "own process",
                                      "pacing_limit_s": limit, "runs": runs,
                                      "product": stats([r["seconds"] for r in runs["product"]]),
                                      "baseline": stats([r["seconds"] for r in runs["baseline"]])})
    print(f"summary: {path}")


if __name__ == "__main__":
    main()
