"""Fixtures for the live dashboard: real Socket.IO servers and python-socketio clients.

- `live_server`: the test app served over HTTP in this process (threads, as
  in production), so sockets, cookies and origins are real.
- `web_processes`: two gunicorn web processes (the Procfile's `web`) on the
  test database with a real Redis message queue, as behind a load balancer.
- `live_client`: python-socketio clients that record what they receive.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
import socketio
from werkzeug.serving import WSGIRequestHandler, make_server

from crisis.auth.services import create_token
from crisis.live.rooms import NAMESPACE

# Redis for the multi-process tests (a database of its own; its keys name the
# test database, so parallel runs do not meet).
REDIS_URL = os.environ.get("LIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
WAIT = 10.0


# -- clients ---------------------------------------------------------------------


@dataclass
class LiveClient:
    """A python-socketio client on /live that records events, refusals and disconnects."""

    client: socketio.Client = field(default_factory=lambda: socketio.Client(reconnection=False))
    events: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    connect_errors: list = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    # The Origin header of the WebSocket handshake; None: the URL's own origin.
    origin: str | None = None
    # Called with each `timeline` event as it arrives (a Follower's handle).
    on_event: Callable[[dict], object] | None = None

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self.client.on("timeline", self._record(self.events, lambda e: self.on_event and self.on_event(e)),
                       namespace=NAMESPACE)
        self.client.on("refused", self._record(self.refused), namespace=NAMESPACE)
        self.client.on("connect_error", self._record(self.connect_errors), namespace=NAMESPACE)
        self.client.on("disconnect", self._record(self.disconnects), namespace=NAMESPACE)

    def _record(self, into: list, then: Callable[[dict], object] | None = None):
        def handler(*args):
            value = args[0] if args else None
            if then is not None:
                then(value)
            with self._changed:
                into.append(value)
                self._changed.notify_all()

        return handler

    def connect(self, base_url: str, *, headers: dict | None = None, auth: dict | None = None,
                origin: str | None = None, transports=("websocket",)) -> bool:
        """Connect; False (and `connect_errors` filled) if the server refused."""
        origin = origin or self.origin
        self.client.eio.websocket_extra_options = {"origin": origin} if origin else {}
        try:
            self.client.connect(base_url, headers=headers or {}, auth=auth, namespaces=[NAMESPACE],
                                transports=list(transports), wait_timeout=WAIT)
        except socketio.exceptions.ConnectionError:
            return False
        return True

    @property
    def connected(self) -> bool:
        return self.client.connected and NAMESPACE in self.client.namespaces

    def join(self, room) -> dict:
        return self.client.call("join", {"room": room}, namespace=NAMESPACE, timeout=WAIT)

    def leave(self, room) -> dict:
        return self.client.call("leave", {"room": room}, namespace=NAMESPACE, timeout=WAIT)

    def wait_until(self, predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition"):
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; events: "
                                         f"{[e.get('id') for e in self.events]}")
                self._changed.wait(min(remaining, 0.2))

    def event(self, event_id: int, timeout: float = WAIT) -> dict:
        return self.wait_until(lambda: next((e for e in self.events if e["id"] == event_id), None),
                               timeout, f"event {event_id}")

    def has_event(self, event_id: int) -> bool:
        return any(e["id"] == event_id for e in self.events)

    def wait_disconnected(self, timeout: float = WAIT) -> None:
        self.wait_until(lambda: self.disconnects, timeout, "a disconnect")

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


@pytest.fixture
def live_client():
    """Factory of LiveClients; all are disconnected after the test."""
    made: list[LiveClient] = []

    def factory(origin: str | None = None) -> LiveClient:
        made.append(LiveClient(origin=origin))
        return made[-1]

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def token_for(session):
    """A bearer token for `user` (created and committed)."""

    def factory(user) -> str:
        issued = create_token(session, user, "live test")
        session.commit()
        return issued.token

    return factory


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def session_cookie(base_url: str, email: str, password: str = "correct horse battery",
                   http: requests.Session | None = None) -> tuple[requests.Session, str]:
    """Log in through the login form (and the two-factor step if the user has one), as a browser
    does; the session and its cookie header value."""
    from tests.conftest import CSRF_META, totp_code

    def form_token(path: str) -> str:
        return CSRF_META.search(http.get(f"{base_url}{path}", timeout=WAIT).text).group(1)

    http = http or requests.Session()
    response = http.post(f"{base_url}/login", allow_redirects=False, timeout=WAIT,
                         data={"email": email, "password": password, "csrf_token": form_token("/login")})
    if response.status_code == 302 and response.headers["Location"].startswith("/login/verify"):
        response = http.post(f"{base_url}/login/verify", allow_redirects=False, timeout=WAIT,
                             data={"code": totp_code(email), "csrf_token": form_token("/login/verify")})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], response.text[:500]
    return http, f"crisis_session={http.cookies['crisis_session']}"


# -- servers ---------------------------------------------------------------------


class _Http10Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"


@pytest.fixture(scope="session")
def live_server(app) -> str:
    """The test app over real HTTP and WebSocket in this process."""
    # HTTP/1.0: the connection ends with the request, as behind gunicorn; with
    # werkzeug's keep-alive a closing WebSocket's last frames would be read as
    # a new HTTP request and the client would wait for its close handshake.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Http10Handler)
    thread = threading.Thread(target=server.serve_forever, name="live-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def public_origin(app) -> str:
    """The origin browsers load pages from (the only one allowed to open sockets)."""
    return app.config["PUBLIC_BASE_URL"]


@pytest.fixture
def local_client(live_client, public_origin):
    """LiveClients for `live_server`, handshaking from the public origin as a browser would."""
    return lambda: live_client(origin=public_origin)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class WebProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def process_env(database_url: str, **extra) -> dict:
    env = dict(os.environ)
    env.pop("CRISIS_ENV", None)
    env.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, **extra)
    return env


def start_web_process(database_url: str, log_dir: Path, name: str) -> WebProcess:
    """A web process as the Procfile runs it: gunicorn, one worker, many threads."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"{name}.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(gunicorn), "--worker-class", "gthread", "--workers", "1", "--threads", "50",
             "--bind", f"127.0.0.1:{port}", "--no-control-socket", "crisis.wsgi:app"],
            env=process_env(database_url, PUBLIC_BASE_URL=url), stdout=log, stderr=subprocess.STDOUT,
        )
    return WebProcess(url, process, log_path)


def wait_healthy(web: WebProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.process.poll() is not None:
            raise RuntimeError(f"{web.url} exited ({web.process.returncode}):\n{web.log_tail()}")
        try:
            if requests.get(f"{web.url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{web.url} did not become healthy:\n{web.log_tail()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def web_processes(app, database_url, tmp_path_factory) -> list[WebProcess]:
    """Two web processes on the test database, joined by the Redis message queue."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"the multi-process tests need Redis at {REDIS_URL}: {exc}")
    log_dir = tmp_path_factory.mktemp("web-processes")
    webs = [start_web_process(database_url, log_dir, name) for name in ("a", "b")]
    try:
        for web in webs:
            wait_healthy(web)
        yield webs
    finally:
        for web in webs:
            stop(web.process)


def run_in_other_process(database_url: str, code: str, timeout: float = 60.0) -> str:
    """Run `code` in a fresh process with the app built (as the scheduler process is)."""
    script = (
        "from crisis import create_app\n"
        "from crisis.core.db import db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
    )
    result = subprocess.run([sys.executable, "-c", script], env=process_env(database_url),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
