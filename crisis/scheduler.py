"""The scheduler: static APScheduler interval jobs over database rows.

APScheduler's job stores cannot be shared between processes (its FAQ), so
production runs exactly one `crisis scheduler` process with an in-memory job
store; `make run` runs the same jobs in the web process. Jobs are
idempotent sweeps over rows (claim, act, record), so a second scheduler
started by mistake, or a restart mid-sweep, sends nothing twice.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from crisis.core.db import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    seconds: int
    run: Callable[[], object]


_JOBS: list[Job] = []


def interval_job(job_id: str, seconds: int):
    """Register a sweep to run every `seconds` (decorator used by capabilities)."""

    def decorator(func):
        _JOBS.append(Job(job_id, seconds, func))
        return func

    return decorator


def registered_jobs() -> list[Job]:
    _import_job_modules()
    return list(_JOBS)


def _import_job_modules() -> None:
    # Capabilities register their sweeps on import.
    import importlib

    for module in ("crisis.messaging.jobs", "crisis.followups.jobs", "crisis.dispatch.jobs",
                   "crisis.tasks.jobs", "crisis.retention.jobs", "crisis.incidents.jobs",
                   "crisis.push.jobs"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise


def _wrap(app: Flask, job: Job):
    def run():
        from crisis.core.logging import current_job

        token = current_job.set(job.id)
        try:
            _run_in_context()
        finally:
            current_job.reset(token)

    def _run_in_context():
        with app.app_context():
            try:
                job.run()
            except Exception:
                db.session.rollback()
                log.exception("scheduler job %s failed; it runs again next interval", job.id)
            finally:
                db.session.remove()

    # Log lines and APScheduler's own messages name the job ("followups.remind"), not "_wrap.<locals>.run".
    run.__name__ = run.__qualname__ = job.id
    return run


def build_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in registered_jobs():
        scheduler.add_job(
            _wrap(app, job), "interval", seconds=job.seconds, id=job.id, name=job.id,
            max_instances=1, coalesce=True, misfire_grace_time=job.seconds,
        )
    return scheduler


SENDER_JOB = "messaging.send"


def _wake_sender_job(scheduler: BackgroundScheduler) -> Callable[[], None]:
    """Run the SMS sender now (texts were committed) instead of at its next interval."""

    def wake() -> None:
        from datetime import UTC, datetime

        try:
            scheduler.modify_job(SENDER_JOB, next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - no such job, or shutting down: the interval covers it
            log.debug("could not wake the sender job", exc_info=True)

    return wake


def start_background_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = build_scheduler(app)
    scheduler.start()
    if scheduler.get_job(SENDER_JOB) is not None:
        from crisis.messaging import wake

        waker = _wake_sender_job(scheduler)
        wake.add_local_waker(waker)  # texts committed in this process
        scheduler._crisis_waker = waker  # type: ignore[attr-defined]
        redis_url = app.config.get("REDIS_URL")
        if isinstance(redis_url, str) and redis_url.startswith(("redis://", "rediss://")):
            stop = threading.Event()
            wake.listen_for_wakeups(redis_url, waker, stop)  # texts committed by the web processes
            scheduler._crisis_wake_stop = stop  # type: ignore[attr-defined]
    log.info("scheduler started in-process with %d jobs", len(scheduler.get_jobs()))
    return scheduler


def stop_background_scheduler(scheduler: BackgroundScheduler) -> None:
    from crisis.messaging import wake

    waker = getattr(scheduler, "_crisis_waker", None)
    if waker is not None:
        wake.remove_local_waker(waker)
    listener_stop = getattr(scheduler, "_crisis_wake_stop", None)
    if listener_stop is not None:
        listener_stop.set()
    scheduler.shutdown(wait=True)


def run_scheduler_forever() -> None:
    from flask import current_app

    app = current_app._get_current_object()
    scheduler = start_background_scheduler(app)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    stop_background_scheduler(scheduler)
    log.info("scheduler stopped")
