"""Collect the JSON written by this run's benches into one summary under instance/bench/.

    .venv/bin/python bench/summary.py SINCE_EPOCH_SECONDS

`make bench` runs every bench and then this; the summary names each bench's
newest result written since the run started, so runs can be compared.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "instance" / "bench"


def main() -> int:
    since = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    newest: dict[str, Path] = {}
    for path in sorted(OUT.glob("*.json"), key=lambda p: p.stat().st_mtime):
        if path.name.startswith("summary-") or path.stat().st_mtime < since:
            continue
        newest[json.loads(path.read_text()).get("bench", path.stem)] = path
    summary = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average": os.getloadavg(),
               "benches": {name: json.loads(path.read_text()) for name, path in sorted(newest.items())}}
    target = OUT / f"summary-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    OUT.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2, default=str))
    print(f"bench summary: {target} ({', '.join(newest) or 'nothing'})")
    return 0 if newest else 1


if __name__ == "__main__":
    sys.exit(main())
