"""Benchmark: 50 users in a closed loop against two web processes of the Procfile layout, next to Flask's floor.

    .venv/bin/python bench/capacity.py [--users 50] [--processes 2] [--seconds 30] [--rounds 1]
                                       [--incidents 100] [--postgres-url URL]

Starts `--processes` gunicorn processes exactly as the Procfile's `web` line
(gthread, one worker, 256 threads) on 127.0.0.1 only, on a database of its
own with `--incidents` active incidents (bench/pages.py's seed). `--users`
virtual users, split over the processes (sticky, as behind the load balancer),
each request as soon as the previous one answered (a closed loop, so the load
is bounded): the mixed set of pages and API reads below, 5% writes (a user's
availability through the API, which records a timeline event and publishes it).

Then the same users against the floor: two gunicorn processes with the same
settings serving a bare Flask + SQLAlchemy endpoint that runs one query
(bench/floor_app.py). Product and floor phases alternate per round.
Reports throughput and per-endpoint p50/p95, and writes instance/bench/capacity-*.json.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Server,
    add_server_argument,
    alternate,
    cpu_snapshot,
    gunicorn,
    own_database,
    stats,
    stop,
    wait_healthy,
    write_summary,
)

WRITE_SHARE = 0.05


def login_cookies(url: str, email: str, password: str):
    import requests

    with requests.Session() as http:
        page = http.get(f"{url}/login", timeout=30).text
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        response = http.post(f"{url}/login", data={"email": email, "password": password, "csrf_token": token},
                             allow_redirects=False, timeout=30)
        assert response.status_code == 302, response.status_code
        return http.cookies.copy()


def run_phase(servers: list[Server], users: int, seconds: float, requests_for, prepare) -> dict:
    """`users` threads in a closed loop for `seconds`; returns latencies per endpoint and the request count."""
    import requests

    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    answers: dict[str, set[str]] = {}  # the statuses of the failed requests, per endpoint
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    start = threading.Barrier(users + 1)

    def user(index: int) -> None:
        server = servers[index % len(servers)]
        rng = random.Random(index)
        http = requests.Session()
        prepare(http, server)
        start.wait()
        while time.monotonic() < stop_at:
            name, method, path, kwargs = requests_for(rng)
            began = time.perf_counter()
            try:
                response = http.request(method, server.url + path, timeout=60, **kwargs)
                ok = response.status_code < 400
                status = str(response.status_code)
            except requests.RequestException as exc:
                ok = False
                status = type(exc).__name__
            elapsed = time.perf_counter() - began
            with lock:
                latencies.setdefault(name, []).append(elapsed)
                if not ok:
                    errors[name] = errors.get(name, 0) + 1
                    answers.setdefault(name, set()).add(status)
        http.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    start.wait()
    began, cpu_before = time.monotonic(), cpu_snapshot(servers)
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    cpu_after = cpu_snapshot(servers)
    total = sum(len(v) for v in latencies.values())
    # Where the machine's CPU went, per request: the web processes, PostgreSQL, the load generator.
    cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000 / max(total, 1) for name in cpu_after}
    return {"seconds": wall, "requests": total, "throughput": total / wall, "cpu_ms_per_request": cpu,
            "endpoints": {name: {**stats([x * 1000 for x in values]), "errors": errors.get(name, 0),
                                 "error_statuses": sorted(answers.get(name, ()))}
                          for name, values in sorted(latencies.items())}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=100)
    add_server_argument(parser)
    args = parser.parse_args()

    from bench.pages import PASSWORD, make_app, seed
    from crisis.core import migrate
    from crisis.core.db import db

    # The seed (this process) and the web processes must share SECRET_KEY: relatives' names and
    # phones are encrypted with a key derived from it, and a page that cannot decrypt them fails.
    secret_key = "capacity-bench-" + "x" * 40
    os.environ["SECRET_KEY"] = secret_key
    results: list[dict] = []
    with own_database(args.postgres_url, "capacity") as database_url, \
            tempfile.TemporaryDirectory(prefix="crisis-capacity-") as work:
        app = make_app(database_url)
        migrate.upgrade(db.engine)
        with app.app_context():
            world = seed(db.session, args.incidents)
            from crisis.auth.models import User
            from crisis.auth.services import create_token

            user = db.session.query(User).filter_by(email=world["email"]).one()
            token = create_token(db.session, user, "capacity bench").token
            db.session.commit()
            db.session.remove()
        db.engine.dispose()
        env = {**os.environ, "DATABASE_URL": database_url, "TOTP_REQUIRED_ROLES": "none",
               "SECRET_KEY": secret_key, "CRISIS_ENV": "development"}
        env.pop("REDIS_URL", None)
        incident = world["incident_id"]
        reads = [
            ("page dashboard", "/dashboard"), ("page incident", f"/incidents/{incident}"),
            ("page my tasks", "/me/tasks"), ("page timeline", f"/incidents/{incident}/timeline"),
            ("page incidents", "/incidents"), ("api dashboard", "/api/v1/dashboard"),
            ("api me/tasks", "/api/v1/me/tasks"), ("api incidents", "/api/v1/incidents"),
            ("healthz", "/healthz"),
        ]
        auth = {"Authorization": f"Bearer {token}"}

        def product_request(rng):
            if rng.random() < WRITE_SHARE:
                return ("api write availability", "POST", "/api/v1/me/availability",
                        {"json": {"availability": rng.choice(["available", "busy"])}, "headers": auth})
            name, path = rng.choice(reads)
            return name, "GET", path, ({"headers": auth} if path.startswith("/api/") else {})

        def floor_request(rng):
            return "floor", "GET", "/floor", {}

        for n, kind in alternate(args.rounds):
            log_dir = Path(work)
            if kind == "product":
                servers = [gunicorn("crisis.wsgi:app", env, log_dir, f"web{i}-{n}", chdir=ROOT)
                           for i in range(args.processes)]
                cookies = {}
                try:
                    wait_healthy(servers, time.monotonic() + 120)
                    for server in servers:
                        cookies[server.url] = login_cookies(server.url, world["email"], PASSWORD)
                    result = run_phase(servers, args.users, args.seconds, product_request,
                                       lambda http, server, jar=cookies: http.cookies.update(jar[server.url]))
                finally:
                    stop(servers)
            else:
                servers = [gunicorn("bench.floor_app:app", env, log_dir, f"floor{i}-{n}", chdir=ROOT)
                           for i in range(args.processes)]
                try:
                    wait_healthy(servers, time.monotonic() + 120)
                    result = run_phase(servers, args.users, args.seconds, floor_request, lambda http, server: None)
                finally:
                    stop(servers)
            kind = "product" if kind == "product" else "floor"
            results.append({"round": n, "kind": kind, **result})
            print(f"round {n} {kind:<8} {result['throughput']:7.1f} req/s ({result['requests']} requests); CPU ms "
                  "a request: " + ", ".join(f"{name} {ms:.1f}" for name, ms in result["cpu_ms_per_request"].items()),
                  flush=True)
            for name, figures in result["endpoints"].items():
                print(f"    {name:<26} p50 {figures['p50']:8.1f} ms   p95 {figures['p95']:8.1f} ms   "
                      f"n {figures['n']:5d}" + (f"   errors {figures['errors']} ({', '.join(figures['error_statuses'])})"
                                                if figures["errors"] else ""))
    path = write_summary("capacity", {"users": args.users, "processes": args.processes, "seconds": args.seconds,
                                      "incidents": args.incidents, "rounds": results})
    print(f"summary: {path}")
    failed = sum(f["errors"] for r in results for f in r["endpoints"].values())
    if failed:
        # Fast errors are no measurement: a run with failed requests fails (and `make bench` with it).
        print(f"{failed} requests failed: these figures are not a measurement", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
