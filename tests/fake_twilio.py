"""A local stand-in for Twilio's Messages REST API and its webhooks.

Tests and benchmarks point the real `twilio` SDK at it (`TWILIO_API_BASE`,
see `crisis.messaging.gateway.TwilioGateway`), so the code under test speaks
the same HTTP and JSON it would speak to Twilio, and no network is needed.

    with FakeTwilio() as fake:
        gateway = gateway_from_config(fake.gateway_config())
        fake.fail_next("+46701740606", code=21211)
        ...
        fake.send_status_callback(sid, "delivered")   # signed like Twilio

What it serves (the account path, form encoding, HTTP basic auth and JSON
shapes follow Twilio's API 2010-04-01):

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` -> 201 and the
  message resource (`status` is `queued`, or `accepted` when sent through a
  Messaging Service, as Twilio does).
- `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`.
- `GET /2010-04-01/Accounts/{AccountSid}/Messages.json` (`To`, `From`,
  `PageSize`; newest first, one page), which the sender uses to find out
  whether a send that stalled in a crash reached Twilio.

Errors use Twilio's body `{"code", "message", "more_info", "status"}`.
Webhooks the fake sends or builds are signed with Twilio's own
`RequestValidator.compute_signature`, so the app's signature check is
exercised for real.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import requests
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

API_VERSION = "2010-04-01"

# Sweden's post and telecom agency reserves 070-174 06 05 … 070-174 06 99 for
# fiction, so the fake's numbers can never reach a real person.
DEFAULT_PHONE_NUMBER = "+46701740605"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment)  # Twilio's format: "Thu, 24 Aug 2023 05:01:45 +0000"


def error_body(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class ScriptedError:
    status: int
    code: int
    message: str


@dataclass
class FakeMessage:
    """One message the fake accepted, with the request parameters it came with."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status: str
    status_callback: str | None
    validity_period: int | None
    params: dict[str, str]
    date_created: datetime
    date_updated: datetime
    error_code: int | None = None
    error_message: str | None = None

    def resource(self) -> dict[str, Any]:
        """The JSON Twilio returns for this message."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": None,
            "date_updated": _rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": uri.removesuffix(".json") + "/Media.json",
            },
            "to": self.to,
            "uri": uri,
        }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    status: int
    form: dict[str, str] = field(default_factory=dict)


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with connections kept alive between requests, as Twilio's API keeps them.

    werkzeug's development server closes every connection after one answer,
    so a client talking to it would open a connection (and the server start a
    thread) per text, which a client of Twilio does not. This one reads each
    request's body by its Content-Length and answers with one, so the next
    request on the same connection is read cleanly.
    """

    protocol_version = "HTTP/1.1"
    #: An idle connection is closed after this long, as a server would.
    timeout = 30
    #: The status line, headers and body go out in one write: no small packet waits on a delayed ACK.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _FakeServer

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away (a read timeout on its side) or stop() closed the connection

    def do_GET(self) -> None:
        self._run_app()

    do_POST = do_DELETE = do_GET

    def _run_app(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        answer: list = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            answer[:] = [status, headers]
            return lambda data: None  # the fake's app returns its body; it never writes

        try:
            chunks = self.server.app(environ, start_response)
            payload = b"".join(chunks)
        except Exception:  # noqa: BLE001 - a fake that breaks answers 500, as werkzeug's server did
            answer[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "application/json")]]
            payload = json.dumps(error_body(500, 20500, "An internal server error has occurred")).encode()
        status, headers = answer
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _FakeServer(ThreadingHTTPServer):
    """A thread per connection; stop() closes the open ones, so a stopped fake answers nothing."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app):
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _KeepAliveHandler)

    def opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeTwilio:
    """Twilio's Messages API on 127.0.0.1, scriptable from tests.

    Thread-safe: the server handles requests on their own threads (so a
    latency benchmark sees real concurrency) while the test thread scripts
    failures and reads `messages`.
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        phone_number: str = DEFAULT_PHONE_NUMBER,
        messaging_service_sid: str | None = None,
        inbound_url: str | None = None,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
    ):
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.phone_number = phone_number
        self.messaging_service_sid = messaging_service_sid or _sid("MG")
        #: Where Twilio would POST an incoming SMS (the number's webhook URL).
        self.inbound_url = inbound_url
        #: Seconds each API request waits before it is answered.
        self.latency_s = latency_s
        self.host = host
        self._lock = threading.Lock()
        self._messages: dict[str, FakeMessage] = {}
        self._requests: list[RecordedRequest] = []
        self._next_errors: deque[ScriptedError] = deque()
        self._recipient_errors: dict[str, deque[ScriptedError]] = {}
        self._opted_out: set[str] = set()
        self._server = None
        self._thread: threading.Thread | None = None
        self._urls = Map(
            [
                Rule(
                    f"/{API_VERSION}/Accounts/<account_sid>/Messages.json",
                    endpoint="create",
                    methods=["POST"],
                ),
                Rule(
                    f"/{API_VERSION}/Accounts/<account_sid>/Messages.json",
                    endpoint="list",
                    methods=["GET"],
                ),
                Rule(
                    f"/{API_VERSION}/Accounts/<account_sid>/Messages/<sid>.json",
                    endpoint="fetch",
                    methods=["GET"],
                ),
            ]
        )

    # -- lifecycle -------------------------------------------------------

    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._server = _FakeServer((self.host, 0), self._wsgi)
        # A short poll interval lets stop() return promptly after each test.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """What to put in `TWILIO_API_BASE`."""
        return f"http://{self.host}:{self.port}"

    def gateway_config(self, messaging_service: bool = False, **overrides: Any) -> dict:
        """Settings that make `gateway_from_config` talk to this fake."""
        config = {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM": None if messaging_service else self.phone_number,
            "TWILIO_MESSAGING_SERVICE_SID": self.messaging_service_sid
            if messaging_service
            else None,
            "TWILIO_API_BASE": self.base_url,
        }
        config.update(overrides)
        return config

    # -- scripting -------------------------------------------------------

    def fail_next(
        self,
        to: str,
        code: int = 21211,
        status: int = 400,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` sends to `to` get this Twilio error."""
        text = message or _DEFAULT_MESSAGES.get(code, "Scripted error {code}").format(
            to=to, code=code
        )
        with self._lock:
            queue = self._recipient_errors.setdefault(to, deque())
            queue.extend(ScriptedError(status, code, text) for _ in range(times))

    def rate_limit_next(self, n: int = 1) -> None:
        """The next `n` sends, to anyone, get 429 with Twilio code 20429."""
        with self._lock:
            self._next_errors.extend(
                ScriptedError(429, 20429, "Too Many Requests") for _ in range(n)
            )

    def server_error_next(self, n: int = 1, status: int = 500) -> None:
        """The next `n` sends, to anyone, get a 5xx (Twilio code 20500)."""
        with self._lock:
            self._next_errors.extend(
                ScriptedError(status, 20500, "An internal server error has occurred")
                for _ in range(n)
            )

    def opt_out(self, number: str) -> None:
        """`number` has texted STOP: later sends to it fail with 21610."""
        with self._lock:
            self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        with self._lock:
            self._opted_out.discard(number)

    def reset(self) -> None:
        """Forget messages, requests and scripted behaviour (not credentials)."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._next_errors.clear()
            self._recipient_errors.clear()
            self._opted_out.clear()

    # -- inspection ------------------------------------------------------

    @property
    def messages(self) -> list[FakeMessage]:
        """A snapshot of every accepted message, oldest first."""
        with self._lock:
            return list(self._messages.values())

    @property
    def api_requests(self) -> list[RecordedRequest]:
        """A snapshot of every API request, accepted or not, oldest first."""
        with self._lock:
            return list(self._requests)

    def get(self, sid: str) -> FakeMessage:
        with self._lock:
            return self._messages[sid]

    def set_status(
        self, sid: str, status: str, error_code: int | None = None, error_message: str | None = None
    ) -> FakeMessage:
        with self._lock:
            message = self._messages[sid]
            message.status = status
            message.error_code = error_code
            message.error_message = error_message
            message.date_updated = datetime.now(UTC)
            return message

    # -- webhooks Twilio would send to the app ---------------------------

    def sign(self, url: str, params: dict[str, str], auth_token: str | None = None) -> str:
        """`X-Twilio-Signature` for a POST of `params` to `url`, as Twilio computes it."""
        return RequestValidator(auth_token or self.auth_token).compute_signature(url, params)

    def build_status_callback(
        self,
        message_sid: str,
        status: str,
        error_code: int | None = None,
        url: str | None = None,
        auth_token: str | None = None,
    ) -> tuple[str, dict[str, str], str]:
        """(url, params, signature) of the status callback Twilio would send.

        Records the new status on the message. `url` defaults to the
        message's StatusCallback; `auth_token` lets a test sign with a wrong
        token.
        """
        message = self.set_status(message_sid, status, error_code)
        target = url or message.status_callback
        if not target:
            raise ValueError(f"message {message_sid} has no StatusCallback; pass url=")
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or self.phone_number,
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return target, params, self.sign(target, params, auth_token)

    def send_status_callback(
        self,
        message_sid: str,
        status: str,
        error_code: int | None = None,
        url: str | None = None,
        auth_token: str | None = None,
        timeout_s: float = 10.0,
    ) -> requests.Response:
        """POST a signed status callback to a running app and return its response."""
        target, params, signature = self.build_status_callback(
            message_sid, status, error_code, url, auth_token
        )
        return self._post_webhook(target, params, signature, timeout_s)

    def build_inbound(
        self,
        from_: str,
        body: str,
        to: str | None = None,
        url: str | None = None,
        auth_token: str | None = None,
    ) -> tuple[dict[str, str], str]:
        """(params, signature) of the webhook for an SMS from `from_` to our number.

        Signed for `url`, default `inbound_url` (the number's configured
        "A message comes in" URL).
        """
        target = url or self.inbound_url
        if not target:
            raise ValueError("no inbound URL: pass url= or set FakeTwilio(inbound_url=...)")
        sid = _sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to or self.phone_number,
        }
        return params, self.sign(target, params, auth_token)

    def send_inbound(
        self,
        from_: str,
        body: str,
        to: str | None = None,
        url: str | None = None,
        auth_token: str | None = None,
        timeout_s: float = 10.0,
    ) -> requests.Response:
        """POST a signed inbound-SMS webhook to a running app and return its response."""
        target = url or self.inbound_url
        params, signature = self.build_inbound(from_, body, to, target, auth_token)
        return self._post_webhook(target, params, signature, timeout_s)

    @staticmethod
    def _post_webhook(
        url: str, params: dict[str, str], signature: str, timeout_s: float
    ) -> requests.Response:
        return requests.post(
            url,
            data=params,
            headers={
                SIGNATURE_HEADER: signature,
                # Twilio sends one per webhook attempt; retries reuse it.
                "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
                "User-Agent": "TwilioProxy/1.1",
            },
            timeout=timeout_s,
            allow_redirects=False,
        )

    # -- the WSGI app ----------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
            if endpoint == "create":
                response = self._create(request, args["account_sid"])
            elif endpoint == "list":
                response = self._list(request, args["account_sid"])
            else:
                response = self._fetch(request, args["account_sid"], args["sid"])
        except NotFound:
            response = self._error(404, 20404, "The requested resource was not found")
        except HTTPException as exc:
            response = self._error(exc.code or 400, 20001, exc.description or "Bad request")
        form = {k: v for k, v in request.form.items()} if request.method == "POST" else {}
        with self._lock:
            self._requests.append(
                RecordedRequest(request.method, request.path, response.status_code, form)
            )
        return response(environ, start_response)

    @staticmethod
    def _json(status: int, payload: dict) -> Response:
        return Response(json.dumps(payload), status=status, mimetype="application/json")

    def _error(self, status: int, code: int, message: str) -> Response:
        return self._json(status, error_body(status, code, message))

    def _authorised(self, request: Request, account_sid: str) -> bool:
        auth = request.authorization
        return (
            auth is not None
            and auth.type == "basic"
            and secrets.compare_digest(auth.username or "", self.account_sid)
            and secrets.compare_digest(auth.password or "", self.auth_token)
            and account_sid == self.account_sid
        )

    def _create(self, request: Request, account_sid: str) -> Response:
        if not self._authorised(request, account_sid):
            return self._error(401, 20003, "Authenticate")
        form = request.form
        to = (form.get("To") or "").strip()
        with self._lock:
            scripted = self._next_errors.popleft() if self._next_errors else None
            if scripted is None and self._recipient_errors.get(to):
                scripted = self._recipient_errors[to].popleft()
            opted_out = to in self._opted_out
        if scripted is not None:
            return self._error(scripted.status, scripted.code, scripted.message)
        from_ = (form.get("From") or "").strip() or None
        service = (form.get("MessagingServiceSid") or "").strip() or None
        body = form.get("Body") or ""
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if from_ and from_ != self.phone_number:
            return self._error(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if not _E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if opted_out:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        validity = form.get("ValidityPeriod")
        now = datetime.now(UTC)
        message = FakeMessage(
            sid=_sid("SM"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            # A Messaging Service first "accepts" and picks the sender later.
            status="accepted" if service and not from_ else "queued",
            status_callback=form.get("StatusCallback") or None,
            validity_period=int(validity) if validity and validity.isdigit() else None,
            params={k: v for k, v in form.items()},
            date_created=now,
            date_updated=now,
        )
        with self._lock:
            self._messages[message.sid] = message
        return self._json(201, message.resource())

    def _list(self, request: Request, account_sid: str) -> Response:
        if not self._authorised(request, account_sid):
            return self._error(401, 20003, "Authenticate")
        to = request.args.get("To")
        from_ = request.args.get("From")
        try:
            page_size = min(max(int(request.args.get("PageSize", 50)), 1), 1000)
        except ValueError:
            return self._error(400, 20001, "PageSize must be an integer")
        with self._lock:
            found = [
                m for m in reversed(self._messages.values())
                if (to is None or m.to == to) and (from_ is None or m.from_ == from_)
            ]
            records = [m.resource() for m in found[:page_size]]
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        return self._json(200, {
            "messages": records,
            "end": max(len(records) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={page_size}&Page=0",
        })

    def _fetch(self, request: Request, account_sid: str, sid: str) -> Response:
        if not self._authorised(request, account_sid):
            return self._error(401, 20003, "Authenticate")
        with self._lock:
            message = self._messages.get(sid)
            payload = message.resource() if message else None
        if payload is None:
            return self._error(
                404,
                20404,
                f"The requested resource /{API_VERSION}/Accounts/{account_sid}"
                f"/Messages/{sid}.json was not found",
            )
        return self._json(200, payload)


_DEFAULT_MESSAGES = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}


class FakeTwilioProcess:
    """The same fake in a process of its own, for benchmarks.

    In production Twilio answers from its own machines; a fake inside the
    measured process would add its own work (parsing each request, building
    each answer) to the process being measured, and compete with it for the
    interpreter lock. Here the fake runs `python -m tests.fake_twilio`,
    driven by one JSON line per command on its stdin. Only what a benchmark
    needs is offered: the latency, `reset`, the accepted `messages`, and the
    CPU the fake's process has used.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        account_sid: str | None = None,
        auth_token: str | None = None,
        phone_number: str = DEFAULT_PHONE_NUMBER,
        messaging_service_sid: str | None = None,
        host: str = "127.0.0.1",
    ):
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.phone_number = phone_number
        self.messaging_service_sid = messaging_service_sid or _sid("MG")
        self.host = host
        self._latency_s = latency_s
        self._process: subprocess.Popen | None = None
        self._base_url: str | None = None
        self._lock = threading.Lock()

    def start(self) -> FakeTwilioProcess:
        if self._process is not None:
            return self
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_twilio"],
            cwd=Path(__file__).resolve().parents[1],  # this checkout's tests package
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        # The credentials go over stdin, not the command line.
        hello = self._ask({
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "phone_number": self.phone_number,
            "messaging_service_sid": self.messaging_service_sid,
            "latency_s": self._latency_s,
            "host": self.host,
        })
        self._base_url = hello["base_url"]
        return self

    def stop(self) -> None:
        process, self._process, self._base_url = self._process, None, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # the fake stops at the end of its input
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> FakeTwilioProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeTwilioProcess is not started")
        return self._base_url

    gateway_config = FakeTwilio.gateway_config  # the same settings, from the same attributes

    @property
    def latency_s(self) -> float:
        return self._latency_s

    @latency_s.setter
    def latency_s(self, seconds: float) -> None:
        self._ask({"op": "latency", "seconds": seconds})
        self._latency_s = seconds

    def reset(self) -> None:
        self._ask({"op": "reset"})

    @property
    def messages(self) -> list[FakeMessage]:
        """Every message the fake has accepted, oldest first."""
        return [_message_from_json(m) for m in self._ask({"op": "messages"})["messages"]]

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the fake's process has used so far."""
        return self._ask({"op": "cpu"})["cpu_s"]

    def _ask(self, command: dict) -> dict:
        if self._process is None:
            raise RuntimeError("FakeTwilioProcess is not started")
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock:
            self._process.stdin.write(json.dumps(command) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake Twilio process ended (exit code {self._process.poll()})")
        return json.loads(line)


def _message_to_json(message: FakeMessage) -> dict:
    data = asdict(message)
    data["date_created"] = message.date_created.isoformat()
    data["date_updated"] = message.date_updated.isoformat()
    return data


def _message_from_json(data: dict) -> FakeMessage:
    return FakeMessage(**{**data, "date_created": datetime.fromisoformat(data["date_created"]),
                          "date_updated": datetime.fromisoformat(data["date_updated"])})


def _serve_commands() -> None:
    """`python -m tests.fake_twilio`: the other end of `FakeTwilioProcess`."""
    fake = FakeTwilio(**json.loads(sys.stdin.readline())).start()

    def reply(**answer: Any) -> None:
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()

    reply(base_url=fake.base_url)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            op = command.get("op")
            if op == "latency":
                fake.latency_s = float(command["seconds"])
                reply(ok=True)
            elif op == "reset":
                fake.reset()
                reply(ok=True)
            elif op == "messages":
                reply(messages=[_message_to_json(m) for m in fake.messages])
            elif op == "cpu":
                reply(cpu_s=time.process_time())
            else:
                reply(error=f"unknown command {op!r}")
    finally:
        fake.stop()


if __name__ == "__main__":
    _serve_commands()
