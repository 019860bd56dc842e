"""A stand-in for a browser's push service (FCM, Mozilla autopush), on this machine.

It takes Web Push requests as the real ones do (RFC 8030, 8291, 8292) and checks them the way
they would: the VAPID JWT in `Authorization: vapid t=…,k=…` must be ES256-signed by the key in
`k`, name this service's origin as `aud`, expire in the future (and within 24 hours) and carry a
`sub` contact; the body must be aes128gcm. It then decrypts the body with the subscription's
private key and auth secret (http_ece + cryptography), as the browser would, and keeps what it
got for the test to look at. Each subscription can be told to answer 404 or 410 (gone) or 500.

Used by tests/push; nothing leaves the machine.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushRejected(Exception):
    """What a real push service would answer 401/400 for."""


@dataclass
class Received:
    path: str
    answered: int
    headers: dict
    claims: dict | None = None
    vapid_key: str | None = None
    payload: dict | None = None
    error: str | None = None


@dataclass
class Browser:
    """One browser's subscription: the keys only the browser holds."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    answer: int = 201


@dataclass
class FakePushService:
    server: ThreadingHTTPServer
    browsers: dict[str, Browser] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def new_subscription(self, answer: int = 201) -> dict:
        """A subscription as `PushSubscription.toJSON()` gives it, for a new browser."""
        name = b64url(os.urandom(12))
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self.browsers[name] = Browser(key, auth, answer)
        public = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.origin}/push/{name}", "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}

    def answer(self, endpoint: str, status: int) -> None:
        self.browsers[urlparse(endpoint).path.rsplit("/", 1)[-1]].answer = status

    def delivered(self) -> list[Received]:
        return [r for r in self.received if r.answered in (200, 201) and r.payload is not None]

    # -- checks, as a push service makes them ------------------------------------------------

    def check_vapid(self, authorization: str) -> tuple[dict, str]:
        if not authorization.startswith("vapid "):
            raise PushRejected("no vapid authorization")
        parts = dict(p.strip().split("=", 1) for p in authorization[len("vapid "):].split(","))
        token, key = parts["t"], parts["k"]
        head, body, signature = token.split(".")
        header = json.loads(b64url_decode(head))
        if header.get("alg") != "ES256":
            raise PushRejected(f"alg {header.get('alg')}")
        raw = b64url_decode(signature)
        if len(raw) != 64:
            raise PushRejected("signature is not 64 bytes (r||s)")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        try:
            public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise PushRejected("bad VAPID signature") from None
        claims = json.loads(b64url_decode(body))
        if claims.get("aud") != self.origin:
            raise PushRejected(f"aud {claims.get('aud')!r} is not {self.origin}")
        now = time.time()
        if not now < int(claims.get("exp", 0)) <= now + 24 * 3600:
            raise PushRejected("exp not in the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise PushRejected("sub is not a mailto: or https: contact")
        return claims, key


def start_fake_push() -> FakePushService:
    service: FakePushService

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            name = self.path.rsplit("/", 1)[-1]
            record = Received(self.path, 0, {k.lower(): v for k, v in self.headers.items()})
            service.received.append(record)
            browser = service.browsers.get(name)
            try:
                if browser is None:
                    raise LookupError
                record.claims, record.vapid_key = service.check_vapid(self.headers.get("Authorization", ""))
                if self.headers.get("Content-Encoding") != "aes128gcm":
                    raise PushRejected("Content-Encoding is not aes128gcm")
                if "TTL" not in self.headers:
                    raise PushRejected("no TTL")
                plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth,
                                         version="aes128gcm")
                record.payload = json.loads(plain.decode())
                status = browser.answer
            except LookupError:
                status = 404
            except (PushRejected, KeyError, ValueError) as error:
                record.error = str(error)
                status = 401 if isinstance(error, PushRejected) else 400
            record.answered = status
            self.send_response(status)
            self.send_header("Content-Length", "0")
            if status == 201:
                self.send_header("Location", f"{service.origin}/message/{len(service.received)}")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service = FakePushService(server)
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-push").start()
    return service
