"""What every bench shares: a database of its own, alternating rounds, p50/p95, a JSON summary.

- `--postgres-url URL` (or BENCH_POSTGRES_URL) names the PostgreSQL server;
  each run creates databases named `crisis_bench_<bench>_<pid>_<random>` and
  drops only those, so two people benchmarking on one server never touch
  each other's databases.
- Product and baseline rounds alternate in the same process, so a machine
  that gets busier or quieter during the run affects both alike; results
  are reported as p50 and p95 side by side, and their ratio.
- `write_summary` adds the bench's figures to instance/bench/ as JSON
  (`make bench` collects them into one summary per run).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
OUT = ROOT / "instance" / "bench"


def add_server_argument(parser) -> None:
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER),
                        help="PostgreSQL server to create the bench's own databases on "
                             "(default BENCH_POSTGRES_URL or %(default)s)")


def unique_name(bench: str) -> str:
    return f"crisis_bench_{bench}_{os.getpid()}_{secrets.token_hex(3)}"


@contextmanager
def own_database(server_url: str, bench: str) -> Iterator[str]:
    """A new database for this run; dropped afterwards (only this one, never another's)."""
    name = unique_name(bench)
    if threading.current_thread() is threading.main_thread():
        # A terminated bench still drops its database (the finally below runs on SystemExit).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            # FORCE ends this run's own leftover connections (a killed worker); the name is ours alone.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def stats(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "median": statistics.median(values) if values else float("nan"),
            "min": min(values) if values else float("nan"), "max": max(values) if values else float("nan")}


def side_by_side(title: str, product: list[float], baseline: list[float], unit: str = "s") -> str:
    p, b = stats(product), stats(baseline)
    ratio = b["p50"] / p["p50"] if p["p50"] else float("nan")
    return (f"{title:<34} product p50 {p['p50']:.3f} {unit}  p95 {p['p95']:.3f} {unit}   |   "
            f"baseline p50 {b['p50']:.3f} {unit}  p95 {b['p95']:.3f} {unit}   |   baseline/product {ratio:.1f}x")


def write_summary(bench: str, data: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = OUT / f"{bench}-{stamp}-{os.getpid()}.json"
    data = {"bench": bench, "at": stamp, "load_average": os.getloadavg(), **data}
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def alternate(rounds: int) -> Iterator[tuple[int, str]]:
    """(round, "product" | "baseline"), alternating, the first round's order flipped each time."""
    for n in range(rounds):
        order = ("product", "baseline") if n % 2 == 0 else ("baseline", "product")
        for kind in order:
            yield n, kind


# -- gunicorn processes of the Procfile layout (capacity, fanout) ----------------------------

#: gunicorn threads per process: each WebSocket holds one (threading mode).
THREADS = 256


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


def _proc_stats() -> list[tuple[int, int, str, float]]:
    """(pid, parent pid, command name, CPU seconds) of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        rows.append((int(entry), int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick))
    return rows


def cpu_snapshot(servers: list[Server]) -> dict[str, float]:
    """CPU seconds so far of the web processes (each with its workers), of PostgreSQL's
    processes, and of this process (the load generator): differences say where a phase's CPU went."""
    rows = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, ppid, _, _ in rows:
        children.setdefault(ppid, []).append(pid)
    seconds = {pid: cpu for pid, _, _, cpu in rows}
    web, stack = 0.0, [server.process.pid for server in servers]
    while stack:
        pid = stack.pop()
        web += seconds.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return {"web": web, "postgres": sum(cpu for _, _, name, cpu in rows if name.startswith("postgres")),
            "load generator": seconds.get(os.getpid(), 0.0)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn(target: str, env: dict, log_dir: Path, name: str, chdir: Path | None = None) -> Server:
    """One web process as the Procfile starts it (gthread, one worker), on a free local port."""
    port = free_port()
    log = log_dir / f"{name}.log"
    command = [str(Path(sys.executable).parent / "gunicorn"), "--worker-class", "gthread", "--workers", "1",
               "--threads", str(THREADS), "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--timeout", "120"]
    if chdir is not None:
        command += ["--chdir", str(chdir)]
    with log.open("wb") as out:
        process = subprocess.Popen(command + [target], env={**env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
                                   stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", process, log)


def wait_healthy(servers: list[Server], deadline: float) -> None:
    """Wait until each answers /healthz, or stop the bench with its log (`deadline`: time.monotonic())."""
    import requests

    for server in servers:
        while True:
            if server.process.poll() is not None:
                raise SystemExit(f"{server.url} exited:\n{server.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{server.url} did not start:\n{server.log.read_text()[-3000:]}")
            time.sleep(0.2)


def stop(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=20)
