"""The follow-up jobs as the scheduler runs them, and what reaches the dashboard."""

from __future__ import annotations

import pytest

from crisis.followups import jobs
from crisis.followups.reminders import run_reminder_sweep
from crisis.scheduler import _wrap, registered_jobs
from crisis.timeline.services import add_publisher, remove_publisher
from tests.followups.helpers import NOW, local, outbox


def test_the_follow_up_jobs_are_registered_as_static_interval_jobs():
    by_id = {job.id: job for job in registered_jobs()}
    assert by_id["followups.reminders"].seconds == 60
    assert by_id["followups.overdue_escalation"].seconds == 300
    assert by_id["followups.morning_summary"].seconds == 300
    assert by_id["followups.reminders"].run is jobs.reminders_job


def test_a_job_runs_inside_the_scheduler_wrapper(app, session, followup_setup, create_follow_up, monkeypatch):
    """The wrapper gives the job an app context and a fresh session, as in `crisis scheduler`."""
    from crisis.followups import reminders

    monkeypatch.setattr(reminders, "utcnow", lambda: NOW)
    follow_up_id = create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, 9),
                                    owner=followup_setup["worker"]).id
    job = next(j for j in registered_jobs() if j.id == "followups.reminders")

    _wrap(app, job)()

    [message] = outbox(session, "followup_reminder")
    assert message.body.endswith(f"Logga in: http://127.0.0.1:5000/followups/{follow_up_id}")


@pytest.mark.usefixtures("app_ctx")
def test_every_reminder_reaches_the_dashboard_after_commit(session, followup_setup, create_follow_up):
    published = []
    publisher = published.append
    add_publisher(publisher)
    try:
        for hour in (8, 9):
            create_follow_up(followup_setup["relative"], due_at=local(2026, 6, 22, hour),
                             owner=followup_setup["worker"])
        run_reminder_sweep(session, now=NOW)
    finally:
        remove_publisher(publisher)

    reminders = [e for e in published if e.type == "followup.reminder_sent"]
    assert len(reminders) == 2
    assert all(e.actor_label == "scheduler" and e.id is not None for e in reminders)
