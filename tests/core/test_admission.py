"""WEB_ACTIVE_REQUESTS: a few requests run the app at once, the rest wait their turn (issue 15)."""

from __future__ import annotations

import threading
import time

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from crisis.core.admission import ActiveRequestLimit, limit_active_requests
from crisis.core.config import ConfigError, load_settings


class SlowApp:
    """A WSGI app whose requests wait until released, counting how many are inside at once."""

    def __init__(self):
        self.inside = 0
        self.most_inside = 0
        self.lock = threading.Lock()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            if environ["PATH_INFO"] not in ("/healthz",) and not environ["PATH_INFO"].startswith("/static/"):
                self.release.wait(10)
            return Response("ok")(environ, start_response)
        finally:
            with self.lock:
                self.inside -= 1


def requests_in_threads(app, paths):
    results = {}

    def run(n, path):
        results[n] = Client(app).get(path)

    threads = [threading.Thread(target=run, args=(n, path)) for n, path in enumerate(paths)]
    for thread in threads:
        thread.start()
    return threads, results


def test_no_more_than_the_limit_run_at_once_and_the_rest_are_served_in_turn():
    inner = SlowApp()
    app = ActiveRequestLimit(inner, 2)
    threads, results = requests_in_threads(app, ["/page"] * 6)
    time.sleep(0.3)
    assert inner.inside == 2  # two inside, four waiting
    inner.release.set()
    for thread in threads:
        thread.join(10)
    assert inner.most_inside == 2
    assert [results[n].status_code for n in range(6)] == [200] * 6


def test_health_checks_and_static_files_are_not_queued():
    inner = SlowApp()
    app = ActiveRequestLimit(inner, 1)
    threads, _ = requests_in_threads(app, ["/page"])
    time.sleep(0.2)
    assert Client(app).get("/healthz").status_code == 200  # while the one slot is taken
    assert Client(app).get("/static/app.css").status_code == 200
    inner.release.set()
    for thread in threads:
        thread.join(10)


@pytest.mark.parametrize(("path", "kind"), [("/api/v1/incidents", "application/problem+json"),
                                            ("/dashboard", "text/html; charset=utf-8")])
def test_a_request_that_waited_too_long_is_told_to_come_back(path, kind):
    inner = SlowApp()
    app = ActiveRequestLimit(inner, 1, queue_seconds=0.2)
    threads, _ = requests_in_threads(app, ["/page"])
    time.sleep(0.1)
    answer = Client(app).get(path)
    inner.release.set()
    for thread in threads:
        thread.join(10)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"] == kind
    assert b"Try again in 5 seconds" in answer.data


def test_the_slot_is_given_back_when_the_app_fails():
    def failing(environ, start_response):
        raise RuntimeError("boom")

    app = ActiveRequestLimit(failing, 1, queue_seconds=0.2)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            Client(app).get("/page")


def test_the_product_queues_its_pages_but_never_its_sockets(app):
    """Mounted inside Flask-SocketIO's middleware: /socket.io never reaches the limit."""
    limit = app.wsgi_app.wsgi_app
    assert isinstance(limit, ActiveRequestLimit) and limit.limit == 4


def test_configured_from_the_environment():
    assert load_settings({"WEB_ACTIVE_REQUESTS": "8"}).web_active_requests == 8
    assert load_settings({}).web_active_requests == 4
    assert limit_active_requests(SlowApp, 0) is SlowApp  # 0: no limit
    with pytest.raises(ConfigError, match="WEB_ACTIVE_REQUESTS must be 0 \\(no limit\\) to 64"):
        load_settings({"WEB_ACTIVE_REQUESTS": "1000"})


def test_slots_go_to_the_longest_waiting_first():
    from crisis.core.admission import FairSlots

    slots = FairSlots(1)
    assert slots.acquire(1)
    order: list[int] = []

    def wait(n):
        assert slots.acquire(5)
        order.append(n)
        slots.release()

    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=wait, args=(n,)))
        threads[-1].start()
        time.sleep(0.05)  # each queued before the next
    slots.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]
    assert slots.acquire(0.1)  # and the slot is free again at the end


def test_a_wait_that_runs_out_leaves_the_queue():
    from crisis.core.admission import FairSlots

    slots = FairSlots(1)
    assert slots.acquire(1)
    assert not slots.acquire(0.1)
    slots.release()
    assert slots.acquire(0.1)  # not handed to the waiter that gave up
