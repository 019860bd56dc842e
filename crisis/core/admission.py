"""At most a few requests of a web process run the app at once; the others wait their turn.

A web process is one Python interpreter with many threads (the Procfile's gthread worker keeps
one per open socket), and Python runs one thread at a time. Under load, twenty-five requests
running at once in one process each hold on to their half-built pages while they take turns:
every request costs more CPU (measured: 20–23 ms a request for the mixed page set against
17–18 ms when a few run at a time), so the process serves fewer requests a second and every
request is slow. With `WEB_ACTIVE_REQUESTS` running and the rest queued (first come, first
served, `FairSlots`), the same two processes served 25–30 % more requests a second
(bench/capacity.py).

Not queued: Socket.IO (each open socket holds its thread; this wraps the app inside
Flask-SocketIO's middleware, so its requests never reach here), `/healthz` (a load balancer
must hear at once that the process lives) and static files (a file costs next to nothing).
A request that has waited `QUEUE_SECONDS` for its turn is answered 503 with Retry-After,
never left to hang until gunicorn's timeout.

The slot is given back when the app has returned its response, not when the last byte has
gone out: a slow phone downloading an export does not hold up the requests behind it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque

log = logging.getLogger(__name__)

QUEUE_SECONDS = 30.0
RETRY_AFTER_SECONDS = 5
NOT_QUEUED = ("/healthz",)
NOT_QUEUED_PREFIXES = ("/static/",)


class FairSlots:
    """`limit` slots handed out in the order they were asked for.

    A semaphore lets a request that just arrived take a slot that is freed before the ones
    already waiting wake up; under load some requests then waited many turns (a p95 twice the
    p50). Here a freed slot goes straight to the longest-waiting request.
    """

    def __init__(self, limit: int):
        self._free = limit
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the slot passes on without being free in between
            else:
                self._free += 1


class ActiveRequestLimit:
    """WSGI middleware: at most `limit` requests inside `app` at once, the others in turn."""

    def __init__(self, app, limit: int, queue_seconds: float = QUEUE_SECONDS):
        self.app = app
        self.limit = limit
        self.queue_seconds = queue_seconds
        self._slots = FairSlots(limit)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in NOT_QUEUED or path.startswith(NOT_QUEUED_PREFIXES):
            return self.app(environ, start_response)
        if not self._slots.acquire(timeout=self.queue_seconds):
            log.warning("web: a request waited %.0f s for one of %d slots; answered 503", self.queue_seconds,
                        self.limit)
            return busy(environ, start_response)
        try:
            return self.app(environ, start_response)
        finally:
            self._slots.release()


def busy(environ, start_response):
    """503 with Retry-After: JSON problem details for the API, a short page otherwise."""
    headers = [("Retry-After", str(RETRY_AFTER_SECONDS)), ("Cache-Control", "no-store")]
    if environ.get("PATH_INFO", "").startswith("/api/"):
        body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                           "detail": f"The server is busy. Try again in {RETRY_AFTER_SECONDS} seconds."}).encode()
        headers.append(("Content-Type", "application/problem+json"))
    else:
        body = ("<!doctype html><html lang=\"sv\"><meta charset=\"utf-8\"><title>Upptaget</title>"
                f"<p>Servern har mycket att göra just nu. Försök igen om {RETRY_AFTER_SECONDS} sekunder.</p>"
                f"<p lang=\"en\">The server is busy. Try again in {RETRY_AFTER_SECONDS} seconds.</p></html>").encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    headers.append(("Content-Length", str(len(body))))
    start_response("503 Service Unavailable", headers)
    return [body]


def limit_active_requests(app, limit: int):
    """`app` behind an `ActiveRequestLimit` of `limit` (0: no limit)."""
    return ActiveRequestLimit(app, limit) if limit > 0 else app
