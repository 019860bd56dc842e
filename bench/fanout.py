"""Benchmark: live-dashboard fan-out, 200 clients across 2 web processes (issue 5).

    .venv/bin/python bench/fanout.py [--clients 200] [--processes 2] [--rounds 20]

Starts everything it needs under a temporary directory and stops it again:

1. The product: a SQLite database (migrated, with the demo data and its active
   response), two gunicorn web processes laid out as the Procfile's `web`
   (one worker, many threads) with REDIS_URL set, and Socket.IO clients split
   evenly over them, every one on the `dashboard` room with a bearer token.
   Each round changes the status of one task through process A's API
   (PATCH /api/v1/tasks/<id>): the service writes the task and its timeline
   event, and after the commit the event goes out through Redis to every
   client of both processes. Latency: from sending the PATCH to the event's
   arrival at each client (the HTTP request, the transaction, Redis, fan-out).

2. The floor: the same fan-out on a bare python-socketio server (no Flask, no
   authentication, no database) with the Redis manager, in the same gunicorn
   layout; each round one HTTP request to process A emits a payload of the
   same size to the room.

It prints p50/p95/p99/max for both and their ratio. Redis is taken from
BENCH_REDIS_URL (default redis://127.0.0.1:6379/7). Every wait is bounded: a
round gives up after 20 s, the whole run after --budget seconds (default 300).
Clients run on one asyncio loop in this process; both runs share that cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Server, gunicorn, stop, wait_healthy  # noqa: E402, F401  (Server: type of servers)

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
NAMESPACE = "/live"


# -- the floor: python-socketio alone, served by gunicorn (`fanout:bare_app()`) ------------


def bare_app():
    """A bare python-socketio server with the Redis manager and a trigger endpoint."""
    import socketio

    manager = socketio.RedisManager(os.environ["BENCH_REDIS_URL"], channel=os.environ["BENCH_CHANNEL"])
    sio = socketio.Server(async_mode="threading", client_manager=manager, cors_allowed_origins="*")

    @sio.on("connect", namespace=NAMESPACE)
    def connect(sid, environ, auth=None):
        return True

    @sio.on("join", namespace=NAMESPACE)
    def join(sid, data):
        sio.enter_room(sid, "dashboard", namespace=NAMESPACE)
        return {"ok": True, "room": "dashboard"}

    def http(environ, start_response):
        if environ.get("PATH_INFO") == "/emit" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            sio.emit("timeline", json.loads(environ["wsgi.input"].read(length)), to="dashboard",
                     namespace=NAMESPACE)
            start_response("204 No Content", [])
            return [b""]
        status = "200 OK" if environ.get("PATH_INFO") == "/healthz" else "404 Not Found"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok" if status == "200 OK" else b""]

    return socketio.WSGIApp(sio, http)


# -- processes -------------------------------------------------------------------------------


# -- clients ---------------------------------------------------------------------------------


@dataclass
class Clients:
    """Socket.IO clients on one asyncio loop (in a thread of its own), recording arrivals by event id."""

    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    clients: list = field(default_factory=list)
    arrivals: list[dict[int, tuple[float, float]]] = field(default_factory=list)  # id -> (perf, wall)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-clients", daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def connect(self, urls: list[str], count: int, headers: dict, timeout: float) -> None:
        self.run(self._connect_all(urls, count, headers), timeout)

    async def _connect_all(self, urls, count, headers) -> None:
        import socketio

        gate = asyncio.Semaphore(20)

        async def one(index: int) -> None:
            client = socketio.AsyncClient(reconnection=False)
            arrivals: dict[int, tuple[float, float]] = {}

            @client.on("timeline", namespace=NAMESPACE)
            async def on_timeline(event):
                arrivals.setdefault(event["id"], (time.perf_counter(), time.time()))

            async with gate:
                await client.connect(urls[index % len(urls)], headers=headers, transports=["websocket"],
                                     namespaces=[NAMESPACE], wait_timeout=30)
                answer = await client.call("join", {"room": "dashboard"}, namespace=NAMESPACE, timeout=30)
                if not answer.get("ok"):
                    raise SystemExit(f"client {index} could not join the dashboard: {answer}")
            self.clients.append(client)
            self.arrivals.append(arrivals)

        await asyncio.gather(*(one(i) for i in range(count)))

    def wait_for(self, event_id: int, timeout: float) -> list[tuple[float, float] | None]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(event_id in a for a in self.arrivals):
                break
            time.sleep(0.002)
        return [a.get(event_id) for a in self.arrivals]

    def close(self) -> None:
        async def disconnect_all():
            await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)

        try:
            self.run(disconnect_all(), 30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    trigger_ms: list[float] = field(default_factory=list)
    after_event_ms: list[float] = field(default_factory=list)  # from the event's timestamp (product only)
    lost: int = 0

    def percentile(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(values if values is not None else self.latencies_ms)
        if not ordered:
            return float("nan")
        rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank]


def measure(result: Result, clients: Clients, trigger, rounds: int, warmup: int, deadline: float) -> None:
    """`trigger()` makes one change and returns its event id, when its HTTP request was answered
    and, if known, the event's own timestamp (epoch seconds)."""
    for n in range(warmup + rounds):
        if time.monotonic() > deadline:
            raise SystemExit("out of time budget")
        start = time.perf_counter()
        event_id, answered, occurred = trigger()
        arrivals = clients.wait_for(event_id, timeout=20)
        if n < warmup:
            continue
        result.trigger_ms.append((answered - start) * 1000)
        for arrived in arrivals:
            if arrived is None:
                result.lost += 1
                continue
            result.latencies_ms.append((arrived[0] - start) * 1000)
            if occurred is not None:
                result.after_event_ms.append((arrived[1] - occurred) * 1000)
        time.sleep(0.1)


def product_run(args, work: Path, deadline: float) -> tuple[Result, int]:
    import requests

    database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    env.pop("CRISIS_ENV", None)
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([str(BIN / "crisis"), *command], env=env, check=True, capture_output=True, timeout=120)
    token = subprocess.run([str(BIN / "crisis"), "tokens", "create", "samordnare@demo.crisis.se", "--name", "bench"],
                           env=env, check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}

    servers = [gunicorn("crisis.wsgi:app", env, work, f"web-{i}") for i in range(args.processes)]
    clients = Clients()
    try:
        wait_healthy(servers, deadline)
        a = servers[0].url
        http = requests.Session()
        http.headers.update(headers)
        incident = http.get(f"{a}/api/v1/dashboard", timeout=10).json()["incidents"][0]
        tasks = http.get(f"{a}/api/v1/incidents/{incident['id']}/tasks", timeout=10).json()["items"]
        task = next(t for t in tasks if t["status"] in ("open", "in_progress"))
        state = {"version": task["version"], "status": task["status"],
                 "after": http.get(f"{a}/api/v1/dashboard", timeout=10).json()["resume_after"]}
        clients.connect([s.url for s in servers], args.clients, headers, timeout=max(10.0, deadline - time.monotonic()))

        def update_task() -> int:
            status = "in_progress" if state["status"] == "open" else "open"
            response = http.patch(f"{a}/api/v1/tasks/{task['id']}", json={"status": status,
                                                                         "version": state["version"]}, timeout=20)
            answered = time.perf_counter()
            response.raise_for_status()
            state["version"], state["status"] = response.json()["version"], status
            # The event's id, from the catch-up endpoint (the newest status change of this task).
            events = http.get(f"{a}/api/v1/events", params={"after": state["after"], "limit": 500}, timeout=10)
            mine = [e for e in events.json()["items"]
                    if e["type"] == "task.status_changed" and e["subject_id"] == task["id"]]
            state["after"] = max([state["after"], *(e["id"] for e in mine)])
            return mine[-1]["id"], answered, datetime.fromisoformat(mine[-1]["occurred_at"]).timestamp()

        result = Result("product")
        measure(result, clients, update_task, args.rounds, args.warmup, deadline)
        sample = http.get(f"{a}/api/v1/events", params={"after": 0, "limit": 500}, timeout=10).json()["items"][-1]
        return result, len(json.dumps(sample))
    finally:
        clients.close()
        stop(servers)


def floor_run(args, work: Path, deadline: float, payload_size: int) -> Result:
    import requests

    env = {**os.environ, "BENCH_REDIS_URL": REDIS_URL, "BENCH_CHANNEL": f"bench-fanout-{uuid.uuid4().hex}"}
    servers = [gunicorn("fanout:bare_app()", env, work, f"bare-{i}", chdir=Path(__file__).parent)
               for i in range(args.processes)]
    clients = Clients()
    try:
        wait_healthy(servers, deadline)
        clients.connect([s.url for s in servers], args.clients, {}, timeout=max(10.0, deadline - time.monotonic()))
        http = requests.Session()
        counter = iter(range(1, 1_000_000))
        padding = "x" * max(0, payload_size - 60)

        def emit() -> int:
            event_id = next(counter)
            http.post(f"{servers[0].url}/emit", json={"id": event_id, "summary": padding}, timeout=20).raise_for_status()
            return event_id, time.perf_counter(), None

        result = Result("bare python-socketio")
        measure(result, clients, emit, args.rounds, args.warmup, deadline)
        return result
    finally:
        clients.close()
        stop(servers)


def report(product: Result, floor: Result, args) -> None:
    print(f"\nFan-out to {args.clients} clients across {args.processes} processes, {args.rounds} rounds "
          f"({args.clients * args.rounds} deliveries each); latency from the trigger request to arrival, ms")
    print(f"{'':24}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}{'request p50':>13}{'lost':>6}")
    for r in (product, floor):
        print(f"{r.name:24}{r.percentile(50):9.1f}{r.percentile(95):9.1f}{r.percentile(99):9.1f}"
              f"{max(r.latencies_ms, default=float('nan')):9.1f}{r.percentile(50, r.trigger_ms):13.1f}{r.lost:6d}")
    ratios = [product.percentile(q) / floor.percentile(q) for q in (50, 95, 99)]
    print(f"{'ratio product/floor':24}" + "".join(f"{x:9.2f}" for x in ratios))
    after = product.after_event_ms
    print(f"\nproduct, from the timeline event's timestamp (flush) to arrival: p50 {product.percentile(50, after):.1f}"
          f"  p95 {product.percentile(95, after):.1f}  p99 {product.percentile(99, after):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for the whole run")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"),
                        help="run the product on a database of its own on this PostgreSQL server "
                             "(default BENCH_POSTGRES_URL; unset: a temporary SQLite file)")
    args = parser.parse_args()
    from contextlib import nullcontext

    from bench.common import own_database

    database = own_database(args.postgres_url, "fanout") if args.postgres_url else nullcontext(None)
    with database as args.database_url:
        run(args)


def run(args) -> None:
    deadline = time.monotonic() + args.budget
    work = Path(tempfile.mkdtemp(prefix="crisis-bench-fanout-"))
    try:
        product, payload_size = product_run(args, work, deadline)
        floor = floor_run(args, work, deadline, payload_size)
        report(product, floor, args)
        from bench.common import stats, write_summary

        write_summary("fanout", {"clients": args.clients, "processes": args.processes,
                                 "product_ms": stats(product.latencies_ms), "floor_ms": stats(floor.latencies_ms)})
        if product.lost or floor.lost:
            raise SystemExit("some clients missed events")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
