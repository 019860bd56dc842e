"""Sending one SMS through a provider: the database-free half of messaging.

A `Message` row is the outbox and the truth (docs/architecture.md, "The database is the
truth"). A gateway only hands one row's text to a provider and says what
happened; it stores nothing, retries nothing and never decides about
escalation. The caller maps the outcome onto the row:

- `SendResult`: the provider took the message (status usually `queued` or,
  for the local outbox, `sent`); keep `provider_id` to match later status
  callbacks.
- `TransientSendError`: try again later with backoff (network trouble,
  Twilio 429/20429, 5xx). `may_have_been_sent` is true when the request may
  have reached Twilio before it failed (read timeout, 5xx): Twilio's Messages
  API has no idempotency key, so a retry can then deliver the text twice.
- `PermanentSendError`: do not retry; record `error_code` on the row
  (21211 invalid number, 21610 recipient has sent STOP, 20003 bad
  credentials ...).

`find_sent` answers the question a crash leaves open: did the provider take
this text before the process died? The sender asks it before it sends a
stalled row again, so a crash between the request and recording its answer
does not deliver the alert twice.

Backends: `OutboxGateway` (local runs, nothing leaves the machine) and
`TwilioGateway` (the real `twilio` SDK; `api_base` points it at a local fake
in tests). `gateway_from_config` picks one from the environment contract.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger(__name__)

#: Statuses a `Message` row can carry (docs/architecture.md, "Data model": Message).
MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed")

# Twilio reports more states than the product tracks; fold them onto ours.
# "accepted"/"scheduled": a Messaging Service has taken the message but not yet
# queued it. "read"/"partially_delivered" come from richer channels than SMS.
_TWILIO_STATUS_MAP = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "partially_delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}

#: Twilio error code for "Too Many Requests" (REST API rate limit).
TWILIO_RATE_LIMIT_CODE = 20429
#: Twilio error code for "Authenticate" (wrong account SID or auth token).
TWILIO_AUTH_ERROR_CODE = 20003

DEFAULT_HTTP_TIMEOUT_S = 10.0
#: Where the SDK sends requests unless TWILIO_API_BASE says otherwise.
TWILIO_API = "https://api.twilio.com"


def normalize_status(provider_status: str | None) -> str:
    """Map a provider's message status (create response or status callback)
    onto one of `MESSAGE_STATUSES`; unknown values count as `queued` so they
    never look final."""
    return _TWILIO_STATUS_MAP.get((provider_status or "").strip().lower(), "queued")


@dataclass(frozen=True)
class SendRequest:
    """One SMS to hand to a provider; built from a `Message` row."""

    to: str  # E.164, e.g. "+46701740605"
    body: str
    status_callback: str | None = None  # absolute URL of /webhooks/twilio/status
    validity_period_s: int | None = None  # drop if still queued after this long
    idempotency_key: str = ""  # the row's identity, for logs and the outbox id


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    status: str  # one of MESSAGE_STATUSES
    error_code: int | None = None
    error_message: str | None = None


class SendError(Exception):
    """Base class: the provider did not take the message."""

    def __init__(self, message: str, error_code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.http_status = http_status


class TransientSendError(SendError):
    """Try again later with backoff."""

    def __init__(
        self,
        message: str,
        error_code: int | None = None,
        http_status: int | None = None,
        may_have_been_sent: bool = False,
    ):
        super().__init__(message, error_code, http_status)
        self.may_have_been_sent = may_have_been_sent


class PermanentSendError(SendError):
    """Retrying the same request cannot succeed; record `error_code`."""

    def __init__(self, error_code: int | None, message: str, http_status: int | None = None):
        super().__init__(message, error_code, http_status)


@runtime_checkable
class SmsGateway(Protocol):
    #: Short backend name to store next to the provider id ("outbox", "twilio").
    name: str
    #: Who the messages come from (number or messaging service): sending is paced per sender.
    sender_key: str

    def send(self, request: SendRequest) -> SendResult: ...

    def find_sent(self, to: str, body: str, since: datetime) -> SendResult | None:
        """The message with this recipient and text the provider took at or
        after `since`, or None when it has none. Raises `SendError` when the
        provider cannot be asked."""
        ...


class OutboxGateway:
    """Local runs: nothing leaves the machine.

    The `Message` row itself is what the "SMS-utkorg" page shows, so the
    gateway keeps nothing; it only gives the row a provider id and marks it
    sent, as a real provider would.
    """

    name = "outbox"
    sender_key = "outbox"

    def send(self, request: SendRequest) -> SendResult:
        provider_id = f"OUTBOX-{uuid.uuid4().hex}"
        log.info("SMS kept in outbox: %s (key %s)", provider_id, request.idempotency_key)
        return SendResult(provider_id=provider_id, status="sent")

    def find_sent(self, to: str, body: str, since: datetime) -> SendResult | None:
        # Nothing ever left the machine: a stalled row is simply sent again.
        return None


class TwilioGateway:
    """Twilio Programmable Messaging through the official SDK.

    `api_base` (env `TWILIO_API_BASE`) replaces https://api.twilio.com for the
    `api` domain, which serves /2010-04-01/Accounts/{sid}/Messages.json. In
    twilio 9.x each domain object (`client.api`, a `twilio.base.domain.Domain`)
    builds request URLs from its public `base_url` attribute, so setting that
    attribute is the supported seam; edge/region host rewriting is switched
    off so it cannot rewrite the overridden host.
    """

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str | None = None,
        timeout_s: float = DEFAULT_HTTP_TIMEOUT_S,
    ):
        if not account_sid or not auth_token:
            raise ValueError("TwilioGateway needs an account SID and an auth token")
        if not from_number and not messaging_service_sid:
            raise ValueError("TwilioGateway needs a from number or a messaging service SID")
        self.from_number = from_number or None
        self.messaging_service_sid = messaging_service_sid or None
        self.api_base = api_base.rstrip("/") if api_base else None
        self._settings = (account_sid, auth_token, timeout_s)
        # One HTTP client per gateway: a pooled requests.Session, and a bound on
        # how long a dispatch can hang on Twilio before the caller retries.
        http_client = TwilioHttpClient(timeout=timeout_s,
                                       proxy=requests.utils.get_environ_proxies(api_base or TWILIO_API))
        # The proxy and CA settings of the environment are read here, once: requests would
        # otherwise read the whole environment again for every text (trust_env).
        http_client.session.trust_env = False
        http_client.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.client = Client(account_sid, auth_token, http_client=http_client)
        if self.api_base:
            self.client.api.base_url = self.api_base
            self.client.edge = None
            self.client.region = None

    def copy(self) -> TwilioGateway:
        """Another gateway with its own HTTP session, for another sending thread."""
        account_sid, auth_token, timeout_s = self._settings
        return TwilioGateway(account_sid, auth_token, self.from_number, self.messaging_service_sid,
                             self.api_base, timeout_s)

    @property
    def sender_key(self) -> str:
        return self.messaging_service_sid or self.from_number or "twilio"

    def send(self, request: SendRequest) -> SendResult:
        params: dict[str, object] = {"to": request.to, "body": request.body}
        # A Messaging Service picks the sender from its pool and applies its
        # opt-out handling; an explicit From would override that choice.
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if request.status_callback:
            params["status_callback"] = request.status_callback
        if request.validity_period_s is not None:
            params["validity_period"] = int(request.validity_period_s)
        try:
            message = self.client.messages.create(**params)
        except TwilioException as exc:
            raise _classify_twilio_error(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _classify_network_error(exc) from exc
        return SendResult(
            provider_id=message.sid,
            status=normalize_status(message.status),
            error_code=message.error_code,
            error_message=message.error_message,
        )

    #: How far apart our clock and Twilio's `date_created` may be.
    CLOCK_SKEW = timedelta(minutes=2)
    #: Messages to one number looked at (newest first); a stalled row is minutes old.
    LOOKUP_PAGE_SIZE = 50

    def find_sent(self, to: str, body: str, since: datetime) -> SendResult | None:
        """Look for the message in Twilio's log: same recipient, same text,
        created since `since` (the list is newest first, so one page is
        enough for a send that stalled minutes ago)."""
        try:
            candidates = self.client.messages.list(
                to=to, limit=self.LOOKUP_PAGE_SIZE, page_size=self.LOOKUP_PAGE_SIZE
            )
        except TwilioException as exc:
            raise _classify_twilio_error(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _classify_network_error(exc) from exc
        earliest = since - self.CLOCK_SKEW
        for message in candidates:
            created = message.date_created
            if message.body != body or (created is not None and created < earliest):
                continue
            if self.messaging_service_sid:
                if message.messaging_service_sid not in (None, self.messaging_service_sid):
                    continue
            elif message.from_ not in (None, self.from_number):
                continue
            return SendResult(
                provider_id=message.sid,
                status=normalize_status(message.status),
                error_code=message.error_code,
                error_message=message.error_message,
            )
        return None


def _classify_twilio_error(exc: TwilioException) -> SendError:
    """HTTP status decides retryability; Twilio's code is kept for the row."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    text = text or type(exc).__name__
    if status == 429 or code == TWILIO_RATE_LIMIT_CODE:
        return TransientSendError(f"Twilio rate limit: {text}", code, status)
    if status is not None and status >= 500:
        # Twilio may have created the message before failing to answer.
        return TransientSendError(
            f"Twilio server error {status}: {text}", code, status, may_have_been_sent=True
        )
    if status == 401:
        return PermanentSendError(
            code or TWILIO_AUTH_ERROR_CODE,
            f"Twilio refused the credentials (check TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN): {text}",
            status,
        )
    if status is not None and 400 <= status < 500:
        return PermanentSendError(code, f"Twilio refused the message: {text}", status)
    # No HTTP status: the SDK could not make sense of the exchange.
    return TransientSendError(f"Twilio client error: {exc}", code, status, may_have_been_sent=True)


def _classify_network_error(exc: requests.exceptions.RequestException) -> TransientSendError:
    # Only a failure to connect proves Twilio never saw the request.
    not_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or _is_connect_failure(exc)
    return TransientSendError(
        f"Could not reach Twilio: {type(exc).__name__}: {exc}", may_have_been_sent=not not_sent
    )


def _is_connect_failure(exc: BaseException) -> bool:
    from urllib3.exceptions import NewConnectionError

    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError | ConnectionRefusedError):
            return True
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
            stack.extend(arg for arg in item.args if isinstance(arg, BaseException))
    return False


def gateway_from_config(config: Mapping) -> SmsGateway:
    """Build the gateway the environment asks for (`SMS_BACKEND`, default `outbox`).

    Raises `ValueError` naming the variable to set when the choice is
    incomplete, so a misconfigured server fails at start, not at the first
    dispatch.
    """
    backend = (config.get("SMS_BACKEND") or "outbox").strip().lower()
    if backend == "outbox":
        return OutboxGateway()
    if backend != "twilio":
        raise ValueError(f"SMS_BACKEND must be 'outbox' or 'twilio', not {backend!r}")
    for required in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        if not config.get(required):
            raise ValueError(f"SMS_BACKEND=twilio needs {required} to be set")
    if not config.get("TWILIO_FROM") and not config.get("TWILIO_MESSAGING_SERVICE_SID"):
        raise ValueError(
            "SMS_BACKEND=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID to be set"
        )
    return TwilioGateway(
        account_sid=config["TWILIO_ACCOUNT_SID"],
        auth_token=config["TWILIO_AUTH_TOKEN"],
        from_number=config.get("TWILIO_FROM") or None,
        messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        api_base=config.get("TWILIO_API_BASE") or None,
    )
