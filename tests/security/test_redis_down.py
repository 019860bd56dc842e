"""Finding 4 (issue 14): with Redis dead, login and the API keep working.

The test starts its own redis-server, a web process (gunicorn, as the Procfile runs it) that uses it, and
kills Redis: rate limits go on in the process's memory with one warning, events are not published, and
/healthz says Redis is degraded while answering 200. When Redis is back, the counters are in it again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from crisis.auth.services import create_token
from tests.conftest import CSRF_META
from tests.live.conftest import free_port, stop, wait_healthy


def start_redis(port: int, workdir: Path) -> subprocess.Popen:
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return process
        except redis.RedisError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError("redis-server did not start")


class Web:
    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url, self.process, self.log_path = url, process, log_path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def redis_and_web(app, database_url, tmp_path):
    port = free_port()
    server = start_redis(port, tmp_path)
    web_port = free_port()
    url = f"http://127.0.0.1:{web_port}"
    env = dict(os.environ)
    env.pop("CRISIS_ENV", None)
    env.update(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{port}/0", PUBLIC_BASE_URL=url,
               TOTP_REQUIRED_ROLES="none")
    log_path = tmp_path / "web.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(gunicorn), "--worker-class", "gthread", "--workers", "1", "--threads", "8",
                                    "--bind", f"127.0.0.1:{web_port}", "--no-control-socket", "crisis.wsgi:app"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    web = Web(url, process, log_path)
    state = {"redis": server, "port": port, "dir": tmp_path}
    try:
        wait_healthy(web)
        yield web, state
    finally:
        stop(web.process)
        stop(state["redis"])


def log_in(url: str, email: str, password: str) -> requests.Response:
    http = requests.Session()
    token = CSRF_META.search(http.get(f"{url}/login", timeout=10).text).group(1)
    return http.post(f"{url}/login", data={"email": email, "password": password, "csrf_token": token},
                     allow_redirects=False, timeout=10)


def test_login_and_the_api_survive_a_dead_redis(redis_and_web, create_user, session):
    web, state = redis_and_web
    user = create_user("outreach", totp=False)
    token = create_token(session, user).token
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{web.url}/healthz", timeout=10).json()["redis"] == "ok"

    state["redis"].kill()  # Redis dies
    state["redis"].wait(timeout=10)

    response = log_in(web.url, user.email, "correct horse battery")
    assert response.status_code == 302, web.log_tail()
    assert requests.get(f"{web.url}/api/v1/me", headers=bearer, timeout=10).status_code == 200
    # A write records an event; publishing it is skipped, the answer is not affected.
    changed = requests.post(f"{web.url}/api/v1/me/availability", json={"availability": "busy"}, headers=bearer,
                            timeout=10)
    assert changed.status_code == 200, web.log_tail()
    health = requests.get(f"{web.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["redis"] == "degraded" \
        and health.json()["database"] == "ok"
    # The limits still hold, counted in the process's memory: 10 login attempts a minute per address.
    statuses = [log_in(web.url, user.email, "wrong password!").status_code for _ in range(10)]
    assert 429 in statuses, statuses
    assert web.log().count("redis unreachable (rate limits)") == 1, web.log_tail()
    assert "Traceback" not in web.log()

    state["redis"] = start_redis(state["port"], state["dir"])  # Redis is back
    time.sleep(5.5)  # the retry interval
    log_in(web.url, "someone@example.se", "wrong password!")
    assert redis.Redis(port=state["port"]).keys("LIMITS*"), web.log_tail()  # counted in Redis again
