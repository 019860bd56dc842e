"""Handing one push to a browser's push service (pywebpush: VAPID-signed, aes128gcm-encrypted).

Runs outside any transaction; the caller records the outcome. Log lines name the subscription
by id only: the endpoint is a capability URL and the keys decrypt what is sent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import requests
from pywebpush import WebPushException, webpush

log = logging.getLogger(__name__)

#: The push service keeps an undelivered push this long (seconds) for a phone that is offline.
ALERT_TTL = 600
TIMEOUT_S = 10
#: Answers that mean the subscription is gone for good: it is removed.
GONE = frozenset({404, 410})


@dataclass(frozen=True)
class PushConfig:
    """What sending needs, copied out of the app's config (a sender thread has no app context)."""

    public_key: str
    private_key: str
    subject: str
    secret_key: str
    public_base_url: str

    @classmethod
    def from_config(cls, config) -> PushConfig | None:
        if not (config.get("VAPID_PUBLIC_KEY") and config.get("VAPID_PRIVATE_KEY")):
            return None
        return cls(config["VAPID_PUBLIC_KEY"], config["VAPID_PRIVATE_KEY"],
                   config.get("VAPID_SUBJECT") or "", config["SECRET_KEY"],
                   (config.get("PUBLIC_BASE_URL") or "").rstrip("/"))


@dataclass(frozen=True)
class PushResult:
    ok: bool
    status: int | None = None
    gone: bool = False
    reason: str | None = None  # a short code for the row: http_410, timeout, refused ...


def send_push(config: PushConfig, subscription_id: int, info: dict, payload: dict, *,
              ttl: int = ALERT_TTL, urgency: str = "high") -> PushResult:
    """One push to one subscription; never raises for the push service's answer."""
    try:
        webpush(
            info, data=json.dumps(payload, ensure_ascii=False), vapid_private_key=config.private_key,
            vapid_claims={"sub": config.subject}, ttl=ttl, timeout=TIMEOUT_S,
            headers={"Urgency": urgency},
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        log.warning("push to subscription %s refused: HTTP %s", subscription_id, status)
        return PushResult(False, status, gone=status in GONE, reason=f"http_{status}" if status else "refused")
    except requests.Timeout:
        log.warning("push to subscription %s timed out", subscription_id)
        return PushResult(False, reason="timeout")
    except (requests.RequestException, ValueError, TypeError) as exc:
        log.warning("push to subscription %s failed: %s", subscription_id, type(exc).__name__)
        return PushResult(False, reason="unreachable")
    return PushResult(True, 201)
