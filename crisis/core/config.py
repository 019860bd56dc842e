"""Configuration from the environment only (docs/architecture.md "Environment").

Every setting has a safe local default so `make run` works with no
configuration; `CRISIS_ENV=production` refuses the defaults that would be
unsafe on a real server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-only-not-secret"
# Two-factor authentication is required for these roles (issue 9); outreach may opt in.
DEFAULT_TOTP_REQUIRED_ROLES = ("coordinator", "manager", "admin")
KNOWN_ROLES = ("coordinator", "outreach", "manager", "admin")
# Any other CRISIS_ENV (e.g. "prod") is refused rather than run with development defaults.
KNOWN_ENVS = ("development", "test", "production")
# Five years after the last entry (socialtjänstlagen 2001:453, 12 kap. 1-2 §§; docs/domain.md "Retention").
DEFAULT_RETENTION_CLOSED_INCIDENT_DAYS = 1826
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# Where migrations/, static/ and playbooks/ are read from: the source checkout, or
# in an installed wheel the copy it carries in crisis/_bundled/ (setup.py).
PROJECT_ROOT = (PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file()
                else PACKAGE_DIR / "_bundled")


class ConfigError(RuntimeError):
    """The environment does not describe a startable configuration."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env, name: str, default: int | None) -> int | None:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}.") from None


def _float(env, name: str) -> float | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}.") from None


def _roles(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated role list; unset means the default, "none" means no role."""
    if value is None or not value.strip():
        return default
    if value.strip().lower() == "none":
        return ()
    return tuple(dict.fromkeys(r.strip().lower() for r in value.split(",") if r.strip()))


def default_database_url(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'crisis.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    env: str
    secret_key: str
    database_url: str
    database_url_is_default: bool
    redis_url: str | None
    sms_backend: str
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_from: str | None
    twilio_messaging_service_sid: str | None
    twilio_api_base: str | None
    public_base_url: str
    encryption_keys: tuple[str, ...]
    session_timeout_minutes: int
    playbook_dir: Path
    # Issue 9 (security and privacy): two-factor roles, session bound, retention periods.
    totp_required_roles: tuple[str, ...] = DEFAULT_TOTP_REQUIRED_ROLES
    session_max_hours: int = 12
    retention_closed_incident_days: int = DEFAULT_RETENTION_CLOSED_INCIDENT_DAYS
    retention_relative_contact_days: int | None = None
    # Issue 14: one process on purpose (no Redis needed between processes).
    single_process: bool = False
    # Issue 14: how many proxies in front may set X-Forwarded-* (0: none; behind one load balancer: 1).
    trusted_proxies: int = 0
    # Issue 15: the SMS sender's pace per sender and its concurrent requests (None: the sender's defaults).
    sms_send_rate: float | None = None
    sms_send_burst: int | None = None
    sms_sender_threads: int | None = None
    # Issue 15: requests of a web process that run at once, the rest queued (crisis.core.admission; 0: no limit).
    web_active_requests: int = 4
    # Issue 16: Web Push alerts before SMS (crisis.push): the VAPID pair, its contact, and how long
    # an alert's SMS waits for the push to be acknowledged.
    vapid_public_key: str | None = None
    vapid_private_key: str | None = None
    vapid_subject: str | None = None
    push_sms_fallback_seconds: int = 60

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def as_flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SMS_BACKEND": self.sms_backend,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_FROM": self.twilio_from,
            "TWILIO_MESSAGING_SERVICE_SID": self.twilio_messaging_service_sid,
            "TWILIO_API_BASE": self.twilio_api_base,
            "PUBLIC_BASE_URL": self.public_base_url,
            "ENCRYPTION_KEYS": self.encryption_keys,
            "PLAYBOOK_DIR": self.playbook_dir,
            "CRISIS_ENV": self.env,
            "TOTP_REQUIRED_ROLES": self.totp_required_roles,
            "SESSION_MAX_HOURS": self.session_max_hours,
            "RETENTION_CLOSED_INCIDENT_DAYS": self.retention_closed_incident_days,
            "RETENTION_RELATIVE_CONTACT_DAYS": self.retention_relative_contact_days,
            "TRUSTED_PROXIES": self.trusted_proxies,
            "WEB_ACTIVE_REQUESTS": self.web_active_requests,
            "VAPID_PUBLIC_KEY": self.vapid_public_key,
            "VAPID_PRIVATE_KEY": self.vapid_private_key,
            "VAPID_SUBJECT": self.vapid_subject,
            "PUSH_SMS_FALLBACK_SECONDS": self.push_sms_fallback_seconds,
            **{name: value for name, value in (
                ("SMS_SEND_RATE", self.sms_send_rate), ("SMS_SEND_BURST", self.sms_send_burst),
                ("SMS_SENDER_THREADS", self.sms_sender_threads)) if value is not None},
        }


def load_settings(environ: dict | None = None, instance_path: Path | None = None) -> Settings:
    env = os.environ if environ is None else environ
    try:
        return _load_settings(env, instance_path)
    except ConfigError as error:
        message = str(error)
        if not message.startswith("Refusing to start"):
            message = f"Refusing to start:\n- {message}"
        raise ConfigError(message) from None


def _load_settings(env, instance_path: Path | None) -> Settings:
    instance_path = instance_path or PROJECT_ROOT / "instance"
    database_url = env.get("DATABASE_URL") or ""
    keys = tuple(k.strip() for k in (env.get("ENCRYPTION_KEYS") or "").split(",") if k.strip())
    settings = Settings(
        env=(env.get("CRISIS_ENV") or "development").strip().lower(),
        secret_key=env.get("SECRET_KEY") or DEFAULT_SECRET_KEY,
        database_url=database_url or default_database_url(instance_path),
        database_url_is_default=not database_url,
        redis_url=env.get("REDIS_URL") or None,
        sms_backend=(env.get("SMS_BACKEND") or "outbox").strip().lower(),
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
        twilio_from=env.get("TWILIO_FROM") or None,
        twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        twilio_api_base=env.get("TWILIO_API_BASE") or None,
        public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        encryption_keys=keys,
        session_timeout_minutes=_int(env, "SESSION_TIMEOUT_MINUTES", 30),
        playbook_dir=Path(env.get("CRISIS_PLAYBOOK_DIR") or PROJECT_ROOT / "playbooks"),
        totp_required_roles=_roles(env.get("TOTP_REQUIRED_ROLES"), DEFAULT_TOTP_REQUIRED_ROLES),
        session_max_hours=_int(env, "SESSION_MAX_HOURS", 12),
        retention_closed_incident_days=_int(env, "RETENTION_CLOSED_INCIDENT_DAYS",
                                            DEFAULT_RETENTION_CLOSED_INCIDENT_DAYS),
        retention_relative_contact_days=_int(env, "RETENTION_RELATIVE_CONTACT_DAYS", None),
        single_process=_bool(env.get("SINGLE_PROCESS")),
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
        sms_send_rate=_float(env, "SMS_SEND_RATE"),
        sms_send_burst=_int(env, "SMS_SEND_BURST", None),
        sms_sender_threads=_int(env, "SMS_SENDER_THREADS", None),
        web_active_requests=_int(env, "WEB_ACTIVE_REQUESTS", 4),
        vapid_public_key=(env.get("VAPID_PUBLIC_KEY") or "").strip() or None,
        vapid_private_key=(env.get("VAPID_PRIVATE_KEY") or "").strip() or None,
        vapid_subject=(env.get("VAPID_SUBJECT") or "").strip() or None,
        push_sms_fallback_seconds=_int(env, "PUSH_SMS_FALLBACK_SECONDS", 60),
    )
    check_settings(settings)
    return settings


def check_settings(settings: Settings) -> None:
    """Refuse a configuration that would be unsafe, saying what to set."""
    problems: list[str] = []
    if settings.env not in KNOWN_ENVS:
        problems.append(f"CRISIS_ENV must be one of {', '.join(KNOWN_ENVS)}, not {settings.env!r}.")
    if settings.sms_backend not in {"outbox", "twilio"}:
        problems.append(f"SMS_BACKEND must be 'outbox' or 'twilio', not {settings.sms_backend!r}.")
    unknown = [r for r in settings.totp_required_roles if r not in KNOWN_ROLES]
    if unknown:
        problems.append(f"TOTP_REQUIRED_ROLES names unknown roles {', '.join(unknown)}; "
                        f"use some of: {', '.join(KNOWN_ROLES)}.")
    if settings.session_timeout_minutes < 1 or settings.session_max_hours < 1:
        problems.append("SESSION_TIMEOUT_MINUTES and SESSION_MAX_HOURS must be at least 1.")
    if settings.sms_send_rate is not None and settings.sms_send_rate < 0:
        problems.append("SMS_SEND_RATE must be 0 (no pacing) or more texts per second per sender (default 30).")
    for name, value in (("SMS_SEND_BURST", settings.sms_send_burst),
                        ("SMS_SENDER_THREADS", settings.sms_sender_threads)):
        if value is not None and value < 1:
            problems.append(f"{name} must be at least 1.")
    if not 0 <= settings.push_sms_fallback_seconds <= 3600:
        problems.append("PUSH_SMS_FALLBACK_SECONDS must be 0 to 3600 seconds (default 60).")
    if settings.retention_closed_incident_days < 1:
        problems.append("RETENTION_CLOSED_INCIDENT_DAYS must be at least 1 (default 1826, five years).")
    if settings.retention_relative_contact_days is not None and not (
        1 <= settings.retention_relative_contact_days <= settings.retention_closed_incident_days
    ):
        problems.append("RETENTION_RELATIVE_CONTACT_DAYS must be between 1 and RETENTION_CLOSED_INCIDENT_DAYS "
                        "(contact details go no later than the rest of the record).")
    if settings.is_production:
        missing = [r for r in DEFAULT_TOTP_REQUIRED_ROLES if r not in settings.totp_required_roles]
        if missing:
            problems.append(
                f"TOTP_REQUIRED_ROLES leaves out {', '.join(missing)}: two-factor authentication is "
                "required for coordinators, managers and admins in production (you may add outreach)."
            )
        if settings.session_max_hours > 24:
            problems.append("SESSION_MAX_HOURS must be at most 24 in production (a working day and a shift).")
        if settings.secret_key == DEFAULT_SECRET_KEY or len(settings.secret_key) < 32:
            problems.append(
                "SECRET_KEY is the development default or shorter than 32 characters: set "
                "SECRET_KEY to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        if settings.database_url_is_default:
            problems.append(
                "DATABASE_URL is not set: set it explicitly, e.g. "
                "postgresql+psycopg://crisis@db.internal/crisis."
            )
        if not settings.encryption_keys:
            problems.append(
                "ENCRYPTION_KEYS is not set: set one or more comma-separated Fernet keys "
                "(newest first), e.g. `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`."
            )
        if not settings.public_base_url.startswith("https://"):
            problems.append("PUBLIC_BASE_URL must be the https:// address users and Twilio reach.")
        vapid = vapid_problem(settings.vapid_public_key, settings.vapid_private_key, settings.vapid_subject)
        if vapid:
            problems.append(vapid)
    problems.extend(deployment_problems(settings))
    if problems:
        raise ConfigError("Refusing to start:\n- " + "\n- ".join(problems))


def deployment_problems(settings: Settings) -> list[str]:
    """Values that cannot work, and production set-ups that would fail silently (issue 14).

    Each names its variable; no value of a secret is repeated in the message.
    """
    problems: list[str] = []
    if not 0 <= settings.trusted_proxies <= 5:
        problems.append("TRUSTED_PROXIES must be 0 (no proxy) to 5; behind one load balancer it is 1.")
    if not 0 <= settings.web_active_requests <= 64:
        problems.append("WEB_ACTIVE_REQUESTS must be 0 (no limit) to 64; 4 suits a web process on its own core.")
    for number, key in enumerate(settings.encryption_keys, 1):
        if not _is_fernet_key(key):
            problems.append(f"ENCRYPTION_KEYS: key {number} is not a Fernet key (44 characters of url-safe "
                            "base64); make one with `crisis keys generate`.")
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append("REDIS_URL must start with redis:// or rediss://, e.g. redis://redis.internal:6379/0.")
    if not settings.public_base_url.startswith(("http://", "https://")):
        problems.append("PUBLIC_BASE_URL must be an http(s):// address, e.g. https://krisstod.stockholm.se.")
    if not settings.is_production:
        return problems
    if settings.sms_backend == "outbox":
        problems.append("SMS_BACKEND is 'outbox' in production: alerts would never leave the machine. "
                        "Set SMS_BACKEND=twilio with the TWILIO_* variables.")
    elif settings.sms_backend == "twilio":
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            problems.append("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
        if not (settings.twilio_from or settings.twilio_messaging_service_sid):
            problems.append("SMS_BACKEND=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID.")
    if not settings.redis_url and not settings.single_process:
        problems.append("REDIS_URL is not set: the web processes and the scheduler share rate limits and live "
                        "updates through Redis. Set REDIS_URL, or SINGLE_PROCESS=1 if one process on purpose.")
    return problems


def _is_fernet_key(key: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def vapid_public_key_of(private: str) -> str:
    """The VAPID public key (65 uncompressed bytes, url-safe base64) of a P-256 private key given
    as its 32 raw bytes in url-safe base64; ValueError when it is not one."""
    import base64
    import binascii

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        raw = base64.urlsafe_b64decode(private.strip() + "=" * (-len(private.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not url-safe base64") from None
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).decode().rstrip("=")


def vapid_problem(public: str | None, private: str | None, subject: str | None) -> str | None:
    """Why these settings cannot sign pushes, or None (all unset is fine: no push alerts).

    Production refuses to start with the problem (check_settings); elsewhere the device page
    says push is not available and why (crisis.push.services.unavailable_reason).
    """
    if not public and not private:
        return None
    if not (public and private):
        missing = "VAPID_PRIVATE_KEY" if public else "VAPID_PUBLIC_KEY"
        return (f"{missing} is not set but the other VAPID key is: set both (make a pair with "
                "`crisis push keys`), or neither for no push alerts.")
    try:
        derived = vapid_public_key_of(private)
    except ValueError:
        return ("VAPID_PRIVATE_KEY is not a P-256 private key in url-safe base64: set the two lines "
                "`crisis push keys` prints.")
    if derived != public.strip().rstrip("="):
        return "VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY: set the two lines `crisis push keys` prints."
    if not subject or not subject.startswith(("mailto:", "https://")):
        return ("VAPID_SUBJECT must be a mailto: or https: contact the push services can reach, "
                "e.g. mailto:krisstod@stad.se.")
    return None
