"""Staff administration tests: quick password hashing (these tests are not about argon2)."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiCaller


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from crisis.auth import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def api(client, session):
    return ApiCaller(client, session)
