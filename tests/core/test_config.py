import pytest

from crisis.core.config import ConfigError, load_settings

PRODUCTION_OK = {
    "CRISIS_ENV": "production",
    "SECRET_KEY": "x" * 48,
    "DATABASE_URL": "postgresql+psycopg://crisis@db/crisis",
    "ENCRYPTION_KEYS": "Sx0nq0e4n1aOwZk2Yk7L0hTq0t0pVt0yq2p1oE3eX2U=",
    "PUBLIC_BASE_URL": "https://krisstod.stockholm.se",
    # Issue 14: production sends real SMS and shares Redis between processes.
    "SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t" * 32,
    "TWILIO_FROM": "+46700000000", "REDIS_URL": "redis://redis.internal:6379/0",
}


def test_development_defaults_need_no_configuration():
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.sms_backend == "outbox"


def test_production_accepts_an_explicit_configuration():
    assert load_settings(PRODUCTION_OK).is_production


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS"),
        ({"PUBLIC_BASE_URL": "http://krisstod.local"}, "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_unsafe_defaults_and_says_what_to_set(override, named):
    with pytest.raises(ConfigError) as error:
        load_settings({**PRODUCTION_OK, **override})
    assert named in str(error.value)


def test_unknown_sms_backend_is_refused():
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        load_settings({"SMS_BACKEND": "carrier-pigeon"})


def test_create_app_refuses_production_defaults(monkeypatch):
    from crisis import create_app

    monkeypatch.setenv("CRISIS_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
