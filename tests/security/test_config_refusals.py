"""Finding 7 (issue 14): configuration mistakes refuse to start, cleanly, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crisis.core.config import ConfigError, load_settings
from tests.core.test_config import PRODUCTION_OK
from tests.live.conftest import free_port


@pytest.mark.parametrize(("override", "named"), [
    ({"SMS_BACKEND": "outbox"}, "SMS_BACKEND"),  # alerts would never leave the machine
    ({"SMS_BACKEND": ""}, "SMS_BACKEND"),  # the default is the outbox
    ({"REDIS_URL": ""}, "REDIS_URL"),
    ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"),
    ({"TWILIO_FROM": ""}, "TWILIO_FROM"),
])
def test_production_refuses_a_set_up_that_would_fail_silently(override, named):
    with pytest.raises(ConfigError) as error:
        load_settings({**PRODUCTION_OK, **override})
    assert str(error.value).startswith("Refusing to start") and named in str(error.value)


def test_one_process_on_purpose_needs_no_redis():
    settings = load_settings({**PRODUCTION_OK, "REDIS_URL": "", "SINGLE_PROCESS": "1"})
    assert settings.single_process and settings.redis_url is None


@pytest.mark.parametrize(("environ", "named", "secret"), [
    ({"SESSION_TIMEOUT_MINUTES": "abc"}, "SESSION_TIMEOUT_MINUTES", None),
    ({"SESSION_MAX_HOURS": "twelve"}, "SESSION_MAX_HOURS", None),
    ({"ENCRYPTION_KEYS": "notakey"}, "ENCRYPTION_KEYS", "notakey"),
    ({"ENCRYPTION_KEYS": "Sx0nq0e4n1aOwZk2Yk7L0hTq0t0pVt0yq2p1oE3eX2U=,short"}, "ENCRYPTION_KEYS", "short"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL", None),
])
def test_a_bad_value_is_named_and_no_secret_repeated(environ, named, secret):
    with pytest.raises(ConfigError) as error:
        load_settings(environ)
    message = str(error.value)
    assert message.startswith("Refusing to start") and named in message
    if secret:
        assert secret not in message


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"CRISIS_ENV", "REDIS_URL", "DATABASE_URL"}}
    env.update(extra)
    return env


@pytest.mark.parametrize("environ", [{"SESSION_TIMEOUT_MINUTES": "abc"}, {"ENCRYPTION_KEYS": "notakey"},
                                     {"CRISIS_ENV": "production"}])
def test_the_command_line_says_why_without_a_traceback(tmp_path, environ):
    crisis = Path(sys.executable).with_name("crisis")
    result = subprocess.run([str(crisis), "db", "check"], env=clean_env(**environ), capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Refusing to start" in output and "Traceback" not in output, output[-2000:]
    assert next(iter(environ)) in output or "SMS_BACKEND" in output


def test_the_web_process_says_why_without_a_traceback(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run([str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{free_port()}",
                             "--no-control-socket", "crisis.wsgi:app"],
                            env=clean_env(SESSION_TIMEOUT_MINUTES="abc"), capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "SESSION_TIMEOUT_MINUTES" in output and "Traceback" not in output, \
        output[-2000:]
