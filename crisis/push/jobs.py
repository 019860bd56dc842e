"""The push sweep (crisis.scheduler): pushes whose after-commit send was lost are sent, and sends a
process died in the middle of give way to their SMS."""

from __future__ import annotations

from crisis.core.db import db
from crisis.push.services import push_config, send_overdue_pushes
from crisis.scheduler import interval_job


@interval_job("push.send", 5)
def send_lost_pushes() -> None:
    send_overdue_pushes(db.session, push_config())
