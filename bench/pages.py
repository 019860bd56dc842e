"""Benchmark: server CPU milliseconds, statements and bytes per page, next to Flask's floor.

    .venv/bin/python bench/pages.py [--incidents 1000] [--rounds 30] [--postgres-url URL] [--label NAME]

In one process, on a database of its own (bench/common.py), with
`--incidents` active incidents (one activated through the product, with its
relatives and history; the rest copies of its rows), each main page and API
list is requested through Flask's test client by a logged-in coordinator,
alternating with a bare Flask + SQLAlchemy endpoint that runs one query on
the same database (the floor: what any page costs at least). For each it
reports CPU ms (process time) p50/p95, wall ms p50/p95, SQL statements and
response bytes, and writes instance/bench/pages-*.json.

`--label` names the run in the summary (e.g. "before" when this file is run
with PYTHONPATH pointing at an older checkout of the product).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH, so an older checkout can be measured

from sqlalchemy import create_engine, event, insert, select, text  # noqa: E402

from bench.common import add_server_argument, own_database, stats, write_summary  # noqa: E402

PASSWORD = "bench-password-1234"


def make_app(database_url: str):
    from crisis import create_app
    from crisis.core.config import load_settings

    environ = dict(os.environ, DATABASE_URL=database_url, TOTP_REQUIRED_ROLES="none")
    environ.pop("CRISIS_ENV", None)
    environ.pop("REDIS_URL", None)
    app = create_app(load_settings(environ), WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    logging.getLogger().setLevel(logging.WARNING)
    # As gunicorn's entry point does once the app is built (crisis/wsgi.py): what starting made is
    # out of the garbage collector's sight. Without it a full collection (about 200 ms here, walking
    # some 240,000 objects the web process never has to walk) landed in whichever round was running.
    gc.collect()
    gc.freeze()
    return app


def seed(session, incidents: int) -> dict:
    """One incident activated by the product, with relatives and events; the rest copies of its rows."""
    from crisis.auth.services import create_user
    from crisis.incidents import services
    from crisis.incidents.models import Incident, Relative
    from crisis.organisation.models import District
    from crisis.tasks.models import Task

    district = District(code="bench", name="Bänkdistrikt", has_own_sig=True)
    session.add(district)
    session.flush()
    coordinator = create_user(session, email="bench-coordinator@example.se", roles=["coordinator"],
                              name="Bänksamordnare", password=PASSWORD, phone="+46701550099",
                              district_id=district.id)
    session.commit()
    now = datetime.now(UTC)
    model = services.activate_incident(session, actor=coordinator, type="shooting",
                                       playbook_id="stockholm-skjutning", outcome="injured",
                                       occurred_at=now - timedelta(hours=3), district_id=district.id)
    session.commit()
    for relation in ("parent", "sibling", "partner"):
        services.add_relative(session, model, actor=coordinator, relation=relation)
    session.commit()
    tasks = session.scalars(select(Task).where(Task.incident_id == model.id)).all()
    task_columns = [c.key for c in Task.__table__.columns if c.key not in ("id", "incident_id", "relative_id",
                                                                           "person_id", "key")]
    incident_columns = [c.key for c in Incident.__table__.columns if c.key not in ("id", "reference")]
    for start in range(0, incidents - 1, 200):
        chunk = range(start, min(incidents - 1, start + 200))
        ids = session.scalars(insert(Incident).returning(Incident.id), [
            {**{k: getattr(model, k) for k in incident_columns}, "reference": f"B{n:05d}",
             "activated_at": model.activated_at - timedelta(minutes=n + 1)}
            for n in chunk
        ]).all()
        session.execute(insert(Task), [
            {**{k: getattr(t, k) for k in task_columns}, "incident_id": i, "key": t.key}
            for i in ids for t in tasks
        ])
        session.execute(insert(Relative), [
            {"incident_id": i, "label": f"Anhörig {m}", "relation": "parent", "consent": "unknown",
             "age_band": "26-64"} for i in ids for m in range(1, 4)
        ])
        session.commit()
    analyze(session)
    return {"incident_id": model.id, "email": coordinator.email}


def analyze(session) -> None:
    """Table statistics for the planner, as autovacuum keeps them on a server in use.

    Rows bulk-inserted a moment ago have none: PostgreSQL then plans the dashboard's
    "most urgent first" as a bitmap scan of every open task per incident (290 ms at 1,000
    incidents instead of 2 ms), which measures the seed, not the product.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()


def activate_with_first_contact(session, world: dict) -> None:
    from crisis.auth.models import User
    from crisis.incidents import services

    coordinator = session.scalar(select(User).where(User.email == world["email"]))
    incident = services.activate_incident(
        session, actor=coordinator, type="shooting", playbook_id="stockholm-skjutning", outcome="injured",
        occurred_at=datetime.now(UTC) - timedelta(hours=1), district_id=coordinator.district_id)
    session.commit()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent")
    session.commit()
    for name, call in (("record_consent", lambda: services.record_consent(
            session, relative, actor=coordinator, state="given", scope=["contact", "sms"])),
                       ("record_first_contact", lambda: services.record_first_contact(
            session, relative, actor=coordinator))):
        if hasattr(services, name):
            try:
                call()
                session.commit()
            except TypeError:
                session.rollback()  # another signature in this checkout: activation alone is measured


def floor_app(database_url: str):
    """Flask + SQLAlchemy and one query: what a page costs at least."""
    from flask import Flask, jsonify

    engine = create_engine(database_url, pool_pre_ping=True)
    app = Flask("floor")

    @app.get("/floor")
    def floor():
        with engine.connect() as conn:
            value = conn.execute(text("SELECT id FROM incidents ORDER BY id LIMIT 1")).scalar()
        return jsonify({"id": value})

    return app, engine


def measure(client, path: str) -> tuple[float, float, int, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    response = client.get(path)
    body = response.get_data()
    return ((time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000,
            response.status_code, len(body))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--label", default="current")
    add_server_argument(parser)
    args = parser.parse_args()

    from crisis.core import migrate
    from crisis.core.db import db

    results: dict[str, dict] = {}
    with own_database(args.postgres_url, "pages") as database_url:
        app = make_app(database_url)
        migrate.upgrade(db.engine)
        with app.app_context():
            world = seed(db.session, args.incidents)
            db.session.remove()
        incident = world["incident_id"]
        pages = {
            # A page that shows nothing from the database: what every logged-in page costs at least.
            "more (fixed cost)": "/more",
            "dashboard": "/dashboard",
            "incident": f"/incidents/{incident}",
            "my tasks": "/me/tasks",
            "timeline": f"/incidents/{incident}/timeline",
            "incidents list": "/incidents",
            "api dashboard": "/api/v1/dashboard",
            "api me/tasks": "/api/v1/me/tasks",
            "api incidents": "/api/v1/incidents",
            "api incident tasks": f"/api/v1/incidents/{incident}/tasks",
        }
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        client = app.test_client()
        response = client.post("/login", data={"email": world["email"], "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        floor, floor_engine = floor_app(database_url)
        floor_client = floor.test_client()
        for path in [*pages.values(), "/floor"]:  # warm every cache once
            (floor_client if path == "/floor" else client).get(path)
        samples = {name: {"cpu": [], "wall": [], "bytes": 0, "statements": 0, "status": 0}
                   for name in [*pages, "floor"]}
        for _ in range(args.rounds):
            for name, path in [*pages.items(), ("floor", "/floor")]:
                statements.clear()
                cpu, wall, status, size = measure(floor_client if name == "floor" else client, path)
                sample = samples[name]
                sample["cpu"].append(cpu)
                sample["wall"].append(wall)
                sample["bytes"], sample["status"] = size, status
                sample["statements"] = 1 if name == "floor" else len(statements)
        # Activation (16 tasks on the shipped plan, then a relative with consent and first contact,
        # which creates the follow-ups), through the services as the activation form calls them.
        samples["activation"] = {"cpu": [], "wall": [], "bytes": 0, "statements": 0, "status": 200}
        with app.app_context():
            for _ in range(args.rounds):
                statements.clear()
                cpu, wall = time.process_time(), time.perf_counter()
                activate_with_first_contact(db.session, world)
                samples["activation"]["cpu"].append((time.process_time() - cpu) * 1000)
                samples["activation"]["wall"].append((time.perf_counter() - wall) * 1000)
                samples["activation"]["statements"] = len(statements)
            db.session.remove()
        floor_engine.dispose()
        db.session.remove()
        db.engine.dispose()
    print(f"{args.incidents} active incidents, {args.rounds} rounds, label {args.label!r}")
    print(f"{'page':<20} {'CPU ms p50':>10} {'p95':>7} {'wall ms p50':>12} {'p95':>7} {'stmts':>6} {'bytes':>9}")
    for name, sample in samples.items():
        cpu, wall = stats(sample["cpu"]), stats(sample["wall"])
        results[name] = {"cpu_ms": cpu, "wall_ms": wall, "statements": sample["statements"],
                         "bytes": sample["bytes"], "status": sample["status"]}
        print(f"{name:<20} {cpu['p50']:10.1f} {cpu['p95']:7.1f} {wall['p50']:12.1f} {wall['p95']:7.1f} "
              f"{sample['statements']:6d} {sample['bytes']:9,d}" + ("" if sample["status"] == 200
                                                                      else f"  HTTP {sample['status']}"))
    path = write_summary("pages", {"label": args.label, "incidents": args.incidents, "rounds": args.rounds,
                                   "pages": results})
    print(f"summary: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
