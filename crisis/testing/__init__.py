"""Test doubles that ship with the package, so the app's own tests, the demo
and benchmarks can run the real provider SDKs against local fakes."""

from crisis.testing.fake_twilio import FakeMessage, FakeTwilio

__all__ = ["FakeMessage", "FakeTwilio"]
