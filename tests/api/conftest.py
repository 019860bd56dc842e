"""Bearer-token callers for the API tests, on top of the incident fixtures."""

from __future__ import annotations

import pytest

from crisis.auth.services import create_token

API = "/api/v1"


class ApiCaller:
    """The test client with a bearer token per user: `api.get("/incidents", as_=user)`."""

    def __init__(self, client, session):
        self.client = client
        self.session = session
        self._tokens: dict[int, str] = {}

    def token(self, user) -> str:
        if user.id not in self._tokens:
            issued = create_token(self.session, user, "api tests")
            self.session.commit()
            self._tokens[user.id] = issued.token
        return self._tokens[user.id]

    def request(self, method: str, path: str, *, as_=None, headers=None, **kwargs):
        # The messages below are asserted in English; the API answers per Accept-Language (a test of
        # its own asks for Swedish).
        headers = {"Accept-Language": "en", **dict(headers or {})}
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.token(as_)}"
        # A real request starts with an empty session; the test's objects must not leak into it.
        self.session.remove()
        return self.client.open(API + path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch):
    """Argon2 with RFC 9106 defaults costs ~0.3 s a user; these tests are about the API, not hashing."""
    from argon2 import PasswordHasher

    from crisis.auth import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def api(client, session):
    return ApiCaller(client, session)


@pytest.fixture
def staff(response_setup, create_user):
    """Everyone the access rules distinguish, around one SIG district."""
    district = response_setup["district"]
    return {
        **response_setup,
        "other_coordinator": create_user("coordinator", district=district),
        "manager": create_user("manager", district=district),
        "admin": create_user("admin"),
        "outsider": create_user("outreach", district=district),  # in no team, assigned nowhere
    }


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["detail"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, body
    return body
