"""The server's VAPID key pair: what identifies this server to the browsers' push services.

`VAPID_PUBLIC_KEY` is the P-256 public key as 65 uncompressed bytes in url-safe base64 (the
browser's `applicationServerKey`); `VAPID_PRIVATE_KEY` the private key's 32 raw bytes in
url-safe base64; `VAPID_SUBJECT` a `mailto:` or `https:` contact the push service may use.
`crisis push keys` prints a new pair. The settings check them as a pair
(crisis.core.config.vapid_problem).
"""

from __future__ import annotations

import base64

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def generate_keys() -> tuple[str, str]:
    """(public, private): a new P-256 pair in the form the environment takes."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return b64url(public), b64url(private)


@click.group("push", help="Web Push alerts: the server's VAPID keys.")
def push_cli() -> None:
    pass


@push_cli.command("keys")
def keys_command() -> None:
    """Print a new VAPID key pair as the two environment lines to set (and VAPID_SUBJECT)."""
    public, private = generate_keys()
    click.echo(f"VAPID_PUBLIC_KEY={public}")
    click.echo(f"VAPID_PRIVATE_KEY={private}")
    click.echo("# and a contact for the push services, e.g.: VAPID_SUBJECT=mailto:krisstod@stad.se", err=True)
