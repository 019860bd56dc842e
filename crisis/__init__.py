"""Crisis-response coordination for support to relatives after shootings and lethal violence."""

from crisis.app import create_app

__all__ = ["create_app"]
