"""A small world for the security tests: two incidents, everyone the access rules tell apart,
and a logged-in browser (test client) per role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import csrf_token, login
from tests.live.conftest import live_server  # noqa: F401  (real sockets for the socket rows)

ROLES = ("coordinator", "outreach", "manager", "admin")
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch):
    """Argon2 with RFC 9106 defaults costs ~0.3 s a user; these tests are about access, not hashing."""
    from argon2 import PasswordHasher

    from crisis.auth import passwords, twofactor

    quick = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", quick)
    monkeypatch.setattr(twofactor, "_code_hasher", quick)


@dataclass
class World:
    users: dict  # role -> the user acting in that role
    coord2: object  # coordinator of incident B
    worker2: object  # outreach assigned to incident B
    incident_a: object  # coordinated by users["coordinator"]; outreach, manager and admin assigned
    incident_b: object  # coordinated by coord2; worker2 assigned
    relative_a: object  # consent given, has a phone number
    relative_b: object
    protected: dict = field(default_factory=dict)  # role -> protected relative on A the role may open
    protected_b: object = None  # protected relative on B; contact person worker2
    task_a: object = None
    task_b: object = None
    own_task_a: dict = field(default_factory=dict)  # role -> task on A owned by the role's user
    own_task_b: dict = field(default_factory=dict)  # role -> task on B owned by the role's user
    others_task_a: object = None  # on A, owned by coord2
    others_task_b: object = None  # on B, owned by worker2
    follow_up_a: object = None
    follow_up_b: object = None
    dispatch_a: dict = field(default_factory=dict)  # role -> dispatch on A alerting the role's user
    dispatch_b: object = None  # on B alerting worker2
    message_a: object = None
    message_b: object = None
    tokens: dict = field(default_factory=dict)  # dispatch id -> link token


@pytest.fixture
def world(app, session, create_user, create_district, create_incident, create_relative, create_team) -> World:
    from crisis.dispatch.models import Dispatch
    from crisis.dispatch.services import ack_token, token_hash
    from crisis.followups.models import FollowUp
    from crisis.messaging.services import queue_sms
    from crisis.tasks.models import Task

    district = create_district("farsta", name="Farsta")
    users = {
        "coordinator": create_user("coordinator", district=district, phone="+46701740601"),
        "outreach": create_user("outreach", district=district, phone="+46701740602"),
        "manager": create_user("manager", district=district),
        "admin": create_user("admin"),
    }
    coord2 = create_user("coordinator", district=district)
    worker2 = create_user("outreach", district=district, phone="+46701740603")
    create_team(district, [users["outreach"]], name="SIG Farsta")
    incident_a = create_incident(district=district, coordinator=users["coordinator"],
                                 assigned=[users["outreach"], users["manager"], users["admin"]])
    incident_b = create_incident(district=district, coordinator=coord2, assigned=[worker2])
    relative_a = create_relative(incident_a, consent="given", phone="+46701740690", name="Anna Andersson")
    relative_b = create_relative(incident_b, consent="given", phone="+46701740691", name="Bertil Berg")
    protected = {
        "coordinator": create_relative(incident_a, protected_identity=True, name="Skyddad Samordnad"),
        "outreach": create_relative(incident_a, protected_identity=True, contact_person_id=users["outreach"].id),
        "manager": create_relative(incident_a, protected_identity=True, contact_person_id=users["manager"].id),
        "admin": create_relative(incident_a, protected_identity=True, contact_person_id=users["admin"].id),
    }
    protected_b = create_relative(incident_b, protected_identity=True, contact_person_id=worker2.id)

    def task(incident, owner=None, relative=None, key=None):
        row = Task(incident_id=incident.id, key=key, title={"sv": "Uppgift", "en": "Task"}, category="outreach",
                   owner_user_id=owner.id if owner else None, relative_id=relative.id if relative else None,
                   due_at=datetime.now(UTC) + timedelta(days=1), note="Anteckning")
        session.add(row)
        return row

    w = World(users=users, coord2=coord2, worker2=worker2, incident_a=incident_a, incident_b=incident_b,
              relative_a=relative_a, relative_b=relative_b, protected=protected, protected_b=protected_b)
    w.task_a = task(incident_a, relative=relative_a)
    w.task_b = task(incident_b, relative=relative_b)
    w.own_task_a = {role: task(incident_a, owner=user) for role, user in users.items()}
    w.own_task_b = {role: task(incident_b, owner=user) for role, user in users.items()}
    w.others_task_a = task(incident_a, owner=coord2)
    w.others_task_b = task(incident_b, owner=worker2)
    now = datetime.now(UTC)
    w.follow_up_a = FollowUp(incident_id=incident_a.id, relative_id=relative_a.id, key="fu-a-1w", label="1w",
                             planned_due_at=now + timedelta(days=7), due_at=now + timedelta(days=7))
    w.follow_up_b = FollowUp(incident_id=incident_b.id, relative_id=relative_b.id, key="fu-b-1w", label="1w",
                             planned_due_at=now + timedelta(days=7), due_at=now + timedelta(days=7))
    session.add_all([w.follow_up_a, w.follow_up_b])
    session.flush()

    def dispatch(incident, user):
        row = Dispatch(incident_id=incident.id, user_id=user.id, created_by_id=incident.coordinator_id,
                       ack_deadline_at=now + timedelta(minutes=10))
        session.add(row)
        session.flush()
        token = ack_token(row)  # needs the app's SECRET_KEY: the world is built in an app context
        row.ack_token_hash = token_hash(token)
        w.tokens[row.id] = token
        return row

    with app.app_context():
        w.dispatch_a = {role: dispatch(incident_a, user) for role, user in users.items()}
        w.dispatch_b = dispatch(incident_b, worker2)
        w.message_a = queue_sms(session, to="+46701740602", body="Larm A", purpose="dispatch",
                                incident_id=incident_a.id, recipient_user_id=users["outreach"].id)
        w.message_b = queue_sms(session, to="+46701740603", body="Larm B", purpose="dispatch",
                                incident_id=incident_b.id, recipient_user_id=worker2.id)
        session.commit()  # before the context ends: its teardown removes the session
    return w



class Browser:
    """A logged-in test client: form posts carry the CSRF token, API writes the X-CSRFToken header."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self._token: str | None = None

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = csrf_token(self.client, "/account/security")
        return self._token

    def request(self, method: str, path: str, *, form: dict | None = None, json: dict | None = None):
        from crisis.core.db import db

        db.session.remove()  # a real request starts with an empty session
        if method == "GET":
            return self.client.get(path)
        if path.startswith("/api/"):
            return self.client.open(path, method=method, json=json if json is not None else {},
                                    headers={"X-CSRFToken": self.token})
        return self.client.open(path, method=method, data={**(form or {}), "csrf_token": self.token})


@pytest.fixture
def browsers(app, world) -> dict:
    """A logged-in Browser per role of the world."""
    result = {}
    for role, user in world.users.items():
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        result[role] = Browser(client, user)
    return result


@pytest.fixture
def scripted_response(app, session, create_user, create_district, create_team):
    """What `tests.security.scripted` needs: staff, a district, a support organisation and tokens."""
    from crisis.auth.services import create_token
    from crisis.referrals.models import SupportOrganisation
    from tests.security import scripted

    district = create_district("farsta", name="Farsta")
    coordinator = create_user("coordinator", district=district)
    manager = create_user("manager", district=district)
    worker = create_user("outreach", district=district, phone="+46701740612")
    create_team(district, [worker], name="SIG Farsta")
    session.add(SupportOrganisation(code="brottsofferjouren", name="Brottsofferjouren", kind="civil_society"))
    tokens = {"coordinator": create_token(session, coordinator).token, "manager": create_token(session, manager).token}
    session.commit()

    def make(send):
        return scripted.Script(send=send, coordinator_token=tokens["coordinator"], manager_token=tokens["manager"],
                               district_id=district.id)

    return {"make": make, "coordinator": coordinator, "manager": manager, "worker": worker,
            "district": district}
