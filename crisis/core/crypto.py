"""Encryption of the most sensitive columns (docs/domain.md "Special categories").

Relatives' names, phone numbers and free-text notes are stored encrypted with
Fernet (AES-128-CBC + HMAC) from `cryptography`. `ENCRYPTION_KEYS` holds one
or more keys, newest first: new values are encrypted with the first, and every
listed key can decrypt, so keys can be rotated (`crisis keys rotate`
re-encrypts every row with the newest key). A database dump alone reveals
none of these values.

Phone numbers must still be found again (an inbound "STOP" names only the
sender's number), so each encrypted phone number has a keyed digest beside it
(HMAC-SHA256, a "blind index"); lookups compare digests under every key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

PREFIX = "enc1:"


class KeyRing:
    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._fernet: MultiFernet | None = None

    def configure(self, keys: tuple[str, ...] | list[str], secret_key: str) -> None:
        raw = [k.encode() for k in keys] or [derive_development_key(secret_key)]
        for key in raw:
            Fernet(key)  # raises ValueError naming a malformed key early
        self._keys = raw
        self._fernet = MultiFernet([Fernet(k) for k in raw])

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    def encrypt(self, plaintext: str) -> str:
        assert self._fernet is not None, "encryption keys not configured"
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        assert self._fernet is not None, "encryption keys not configured"
        if not token.startswith(PREFIX):
            raise ValueError("value is not encrypted")
        try:
            return self._fernet.decrypt(token[len(PREFIX):].encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                "cannot decrypt a stored value: is its key still listed in ENCRYPTION_KEYS?"
            ) from exc

    def rotate(self, token: str) -> str:
        assert self._fernet is not None
        return PREFIX + self._fernet.rotate(token[len(PREFIX):].encode()).decode()

    def is_current(self, token: str) -> bool:
        """True if `token` is encrypted with the newest key (`crisis keys rotate` skips it)."""
        assert self._fernet is not None, "encryption keys not configured"
        if not token.startswith(PREFIX):
            return False
        try:
            Fernet(self._keys[0]).decrypt(token[len(PREFIX):].encode())
        except InvalidToken:
            return False
        return True

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def digests(self, value: str) -> list[str]:
        """The blind-index digest of `value` under every key, newest first."""
        return [_digest(k, value) for k in self._keys]

    def digest(self, value: str) -> str:
        return _digest(self._keys[0], value)


def _digest(key: bytes, value: str) -> str:
    index_key = hashlib.sha256(b"blind-index:" + key).digest()
    return hmac.new(index_key, value.encode(), hashlib.sha256).hexdigest()


def derive_development_key(secret_key: str) -> bytes:
    """A stable local key so `make run` needs no setup (refused in production)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"crisis-dev", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


keyring = KeyRing()


class EncryptedText(TypeDecorator):
    """A text column whose value is encrypted at rest."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return keyring.encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return keyring.decrypt(value)


class EncryptedJSON(TypeDecorator):
    """A JSON value (dict, list) encrypted at rest as one token (issue 14, finding 9).

    Code reading the attribute gets the plain value; a database dump shows
    only `enc1:…`. Nothing queries inside these values in SQL.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return keyring.encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if not value.startswith(PREFIX):  # written before issue 14 and not migrated (never in a migrated db)
            return json.loads(value)
        return json.loads(keyring.decrypt(value))
