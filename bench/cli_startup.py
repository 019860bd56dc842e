"""Benchmark: how long the `crisis` command takes to start and answer.

    .venv/bin/python bench/cli_startup.py [--runs 5]

Runs, as separate processes (as a person at a terminal does), `crisis --help`,
`crisis playbooks validate` and `crisis db upgrade` on an up-to-date temporary
SQLite database, and prints the median and the slowest wall time of each. The
goal (issue 13): `--help` and `playbooks validate` under 1 s on the
development machine; they import no web app and no database layer
(crisis.cli). `db upgrade` builds the app and is shown for comparison.
Exits 1 if the median of one of the first two is over the goal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRISIS = ROOT / ".venv" / "bin" / "crisis"
GOAL_SECONDS = 1.0


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run([str(CRISIS), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"crisis {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"}
        timed(["db", "upgrade"], env)  # the database is then up to date
        commands = {"--help": ["--help"], "playbooks validate": ["playbooks", "validate"],
                    "db upgrade (up to date)": ["db", "upgrade"]}
        slow = []
        for label, args in commands.items():
            timed(args, env)  # warm the file cache once
            times = [timed(args, env) for _ in range(runs)]
            median = statistics.median(times)
            print(f"crisis {label:<26} median {median:.2f} s  slowest {max(times):.2f} s  ({runs} runs)")
            if label in ("--help", "playbooks validate") and median > GOAL_SECONDS:
                slow.append(label)
    if slow:
        sys.exit(f"over {GOAL_SECONDS:.0f} s: {', '.join(slow)}")


if __name__ == "__main__":
    main()
