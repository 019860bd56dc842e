"""A logged-in page reads the session record, its user and the user's roles once per request, in one
statement, not once per check."""

from __future__ import annotations

from crisis.core.db import db
from tests.conftest import login
from tests.statements import counting_statements


def _reads(statements, table: str) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT") and f"FROM {table} " in f"{s} ")


def test_a_plain_page_loads_the_session_record_and_the_user_once(client, create_user):
    user = create_user("outreach")
    assert login(client, user.email).status_code == 302
    client.get("/more")  # warm: whatever a page loads once per process
    with counting_statements(db.engine) as statements:
        assert client.get("/more").status_code == 200
    assert _reads(statements, "auth_sessions") == 1, statements.describe()
    # The record, its user and the user's roles: one statement.
    assert statements.count == 1, statements.describe()


def test_a_session_ended_elsewhere_is_still_refused(client, create_user, session):
    """The guard's answer is reused within one request only: sign out everywhere still counts."""
    from crisis.auth.sessions import end_user_sessions

    user = create_user("outreach")
    assert login(client, user.email).status_code == 302
    assert client.get("/more").status_code == 200
    end_user_sessions(session, user.id)
    session.commit()
    response = client.get("/more")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
