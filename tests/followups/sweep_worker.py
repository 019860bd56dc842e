"""A scheduler process for the multi-process tests: runs reminder sweeps against a database.

    python -m tests.followups.sweep_worker --database-url URL --now ISO [--batch-size N]
        [--start-file PATH] [--stall-after N --marker PATH]

It sweeps batch by batch until a sweep claims nothing, then prints a JSON
report on stdout. `--start-file` makes several workers start together;
`--stall-after N` queues N reminders and then stops dead in the middle of a
batch (its transaction open, its claims committed), writes `--marker` and
waits to be killed: the test's kill -9 lands mid-sweep, not between sweeps.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", required=True, help="the sweep's clock, ISO 8601 with offset")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--start-file")
    parser.add_argument("--stall-after", type=int)
    parser.add_argument("--marker")
    args = parser.parse_args(argv)

    from crisis import create_app
    from crisis.core.config import load_settings
    from crisis.core.db import db
    from crisis.followups import reminders

    environ = dict(os.environ, DATABASE_URL=args.database_url)
    environ.pop("CRISIS_ENV", None)
    app = create_app(load_settings(environ), TESTING=True)
    now = datetime.fromisoformat(args.now)

    if args.stall_after is not None:
        from crisis.followups.notify import StaffTexts

        real_queue = StaffTexts.queue
        queued = 0

        def stalling_queue(self, *a, **kw):
            nonlocal queued
            result = real_queue(self, *a, **kw)
            queued += 1
            if queued >= args.stall_after:
                Path(args.marker).write_text(str(os.getpid()))
                while True:  # mid-batch, transaction open: wait for SIGKILL
                    time.sleep(1)
            return result

        real_queue_many = StaffTexts.queue_many

        def stalling_queue_many(self, items):
            # The bulk path: the batch's texts are written, its transaction is open.
            nonlocal queued
            result = real_queue_many(self, items)
            queued += len(items)
            if queued >= args.stall_after:
                Path(args.marker).write_text(str(os.getpid()))
                while True:
                    time.sleep(1)
            return result

        StaffTexts.queue = stalling_queue
        StaffTexts.queue_many = stalling_queue_many

    if args.start_file:
        deadline = time.monotonic() + 60
        while not Path(args.start_file).exists():
            if time.monotonic() > deadline:
                print(json.dumps({"error": "start file never appeared"}))
                return 2
            time.sleep(0.01)

    sent: list[int] = []
    batches = released = 0
    with app.app_context():
        while True:
            report = reminders.run_reminder_sweep(db.session, now=now, batch_size=args.batch_size,
                                                  max_batches=1)
            sent.extend(report.sent_ids)
            released += report.released
            batches += report.batches
            if report.claimed == 0:
                break
        db.session.remove()
    print(json.dumps({"pid": os.getpid(), "sent_ids": sent, "batches": batches, "released": released}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
