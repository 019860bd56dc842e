"""Benchmark: dispatch to 100 recipients through the real twilio SDK against the local fake.

    .venv/bin/python bench/dispatch.py [--recipients 100] [--latency-ms 100] [--database-url URL]

Measures, from the coordinator's dispatch to the moment Twilio (the fake,
answering each API request after --latency-ms, as Twilio's API takes tens
to hundreds of milliseconds) has accepted every alert:

- one by one: the sender with a single worker, each request waiting for
  the previous answer (the baseline);
- the sender as it runs in production (crisis.messaging.sender defaults:
  concurrent requests, paced per sender at SMS_SEND_RATE per second).

Both runs go through the same path: the dispatch writes its outbox rows in
one transaction, sweeps claim them, send them and record Twilio's SID. Each
run checks that every recipient got exactly one message. Prints both times
and the ratio. The database is a temporary SQLite file unless
--database-url names another (its name must contain "bench" or "test";
its tables are emptied between runs).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

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


def run(app, fake, recipients: int, settings) -> float:
    """Seconds from the dispatch to Twilio having accepted every alert."""
    from crisis.core.db import db
    from crisis.dispatch.services import dispatch_staff
    from crisis.messaging.models import Message
    from crisis.messaging.sender import Pacer, get_gateway, run_sender_sweep

    empty_tables()
    fake.reset()
    with app.app_context():
        session = db.session
        coordinator, people, incident = seed(session, recipients)
        gateway = get_gateway(app)
        pacer = Pacer(settings.rate_per_second, settings.burst)  # a fresh budget for each run
        start = time.perf_counter()
        dispatch_staff(session, incident=incident, users=people, actor=coordinator)
        session.commit()
        while session.scalar(select(func.count(Message.id)).where(Message.provider_id.is_(None))):
            run_sender_sweep(session, gateway, settings, pacer=pacer)
        elapsed = time.perf_counter() - start
        accepted = sorted(m.to for m in fake.messages)
        if accepted != sorted(p.phone for p in people):
            raise SystemExit(f"expected one message per recipient, Twilio got {len(accepted)}")
        db.session.remove()
    return elapsed


def main() -> None:
    from dataclasses import replace

    from crisis.messaging.sender import settings_from_config
    from crisis.testing import FakeTwilio

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the fake's answer time per request")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if not 1 <= args.recipients < len(FICTION):
        raise SystemExit(f"--recipients must be 1 to {len(FICTION)} (the numbers reserved for fiction)")

    with tempfile.TemporaryDirectory() as tmp, FakeTwilio(latency_s=args.latency_ms / 1000) as fake:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        name = make_url(database_url).database or ""
        if args.database_url and "bench" not in name and "test" not in name:
            raise SystemExit("--database-url: its tables are emptied, so its name must contain 'bench' or 'test'")
        app = make_app(database_url, fake)
        from crisis.messaging.sender import get_gateway

        production = settings_from_config(app.config, get_gateway(app))
        one_by_one = replace(production, workers=1)
        baseline = run(app, fake, args.recipients, one_by_one)
        concurrent = run(app, fake, args.recipients, production)

    sender = (f"sender ({production.workers} workers, paced {production.rate_per_second:g}/s "
              f"per sender, burst {production.burst})")
    baseline_label = "one by one (1 worker, same path)"
    width = max(len(sender), len(baseline_label))
    print(f"dispatch to {args.recipients} recipients, fake Twilio answering in {args.latency_ms:.0f} ms "
          f"({make_url(database_url).get_backend_name()}); time until Twilio accepted every alert:")
    print(f"  {baseline_label:<{width}}  {baseline:6.2f} s")
    print(f"  {sender:<{width}}  {concurrent:6.2f} s")
    print(f"  ratio (one by one / sender): {baseline / concurrent:.1f}x")


if __name__ == "__main__":
    main()
