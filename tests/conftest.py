"""Shared fixtures: one migrated database per run, emptied after each test.

The database is SQLite (a temporary file) unless DATABASE_URL names another;
`.ci/run` runs the suite once on each. Because the suite wipes the database,
a DATABASE_URL whose database name does not contain "test" is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from crisis.core.config import load_settings
from crisis.core.db import db
from crisis.models import Base

HERE = Path(__file__).parent


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    name = make_url(url).database or ""
    if "test" not in name:
        raise pytest.UsageError(
            f"DATABASE_URL names database {name!r}; the tests empty it, so its name must contain 'test'."
        )
    return url


def _reset_schema(url: str) -> None:
    """Start from nothing, then build the schema with the migrations (not create_all)."""
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = _database_url(tmp_path_factory)
    _reset_schema(url)
    return url


@pytest.fixture(scope="session")
def app(database_url):
    from crisis import create_app
    from crisis.core import migrate

    environ = dict(os.environ)
    environ["DATABASE_URL"] = database_url
    environ.pop("CRISIS_ENV", None)
    settings = load_settings(environ)
    app = create_app(
        settings,
        TESTING=True,
        RATELIMIT_STORAGE_URI="memory://",
        SERVER_NAME=None,
    )
    migrate.upgrade(db.engine)
    return app


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Each test starts with empty tables and fresh rate limits."""
    yield
    if "app" not in request.fixturenames:
        return
    from crisis.core.extensions import limiter

    db.session.remove()
    empty_all_tables()
    limiter.reset()


def empty_all_tables() -> None:
    tables = Base.metadata.sorted_tables
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            # Rows of one table may reference each other (districts served by
            # districts); SQLite checks those row by row.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in reversed(tables):
                conn.execute(table.delete())
        conn.commit()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def session(app):
    """The thread's database session. No app context is pushed on purpose:
    Flask would reuse a pushed context (and its `g`) for every test-client
    request, which real requests never do."""
    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


# -- factories (they return callables, as in Indico's tests) ------------------


@pytest.fixture
def create_district(session) -> Callable:
    from crisis.organisation.models import District

    counter = iter(range(1, 10_000))

    def factory(code: str | None = None, *, has_own_sig: bool = True, served_by=None, name=None):
        n = next(counter)
        district = District(
            code=code or f"district-{n}", name=name or f"Stadsdel {n}", has_own_sig=has_own_sig,
            sig_served_by=served_by,
        )
        session.add(district)
        session.commit()
        return district

    return factory


@pytest.fixture
def create_user(session) -> Callable:
    from crisis.auth.services import create_user as create

    counter = iter(range(1, 10_000))

    def factory(*roles: str, email: str | None = None, password: str = "correct horse battery",
                phone: str | None = None, district=None, name: str | None = None,
                totp: bool | None = None):
        """`totp`: enrol in two-factor authentication with a random secret (default: if the role
        requires it, as TOTP_REQUIRED_ROLES does); `login()` then gives the code from it."""
        import pyotp

        from crisis.core.config import DEFAULT_TOTP_REQUIRED_ROLES

        n = next(counter)
        roles = list(roles or ["outreach"])
        user = create(
            session, email=email or f"user{n}@example.se", roles=roles,
            name=name or f"Användare {n}", password=password, phone=phone,
            district_id=district.id if district else None,
        )
        if totp or (totp is None and set(roles) & set(DEFAULT_TOTP_REQUIRED_ROLES)):
            user.totp_secret = pyotp.random_base32()
        session.commit()
        return user

    return factory


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, email: str, password: str = "correct horse battery"):
    """Log in through the form; for a user with two-factor authentication, also the code step.

    Returns the last response: the redirect into the app, or the refusal."""
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    if response.status_code == 302 and response.headers["Location"].startswith("/login/verify"):
        token = csrf_token(client, "/login/verify")
        response = client.post("/login/verify", data={"code": totp_code(email), "csrf_token": token})
    return response


def totp_code(email: str) -> str:
    """A code from the user's authenticator app that the server has not seen yet.

    A code is accepted once (replay refused) and the server accepts the next
    30-second step too (clock drift); a third login of one user within the
    same step waits for the next step."""
    import time

    import pyotp

    from crisis.auth.models import User

    # A connection of its own, closed at once: the caller's session (or thread) keeps no
    # transaction open that would block the TRUNCATE after the test on PostgreSQL.
    with db.engine.connect() as connection:
        secret, last = connection.execute(
            select(User.totp_secret, User.totp_last_counter).where(User.email == email.strip().lower())
        ).one()
    assert secret, f"{email} has no two-factor secret"
    totp = pyotp.TOTP(secret)
    while True:
        current = totp.timecode(datetime.now(UTC))
        for counter in (current, current + 1):
            if last is None or counter > last:
                return totp.generate_otp(counter)
        time.sleep(1)


@pytest.fixture
def logged_in(client, create_user) -> Callable:
    """Log a new user with `roles` in on the test client; returns the user."""

    def factory(*roles: str, **kwargs):
        user = create_user(*roles, **kwargs)
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return factory


@pytest.fixture
def create_snapshot(session) -> Callable:
    """A pinned playbook snapshot with the given content (a tiny valid plan by default)."""
    import hashlib
    import json

    from crisis.playbooks.models import PlaybookSnapshot

    def factory(content: dict | None = None, playbook_id: str = "test-plan"):
        content = content or {
            "id": playbook_id, "version": 1, "title": {"sv": "Testplan", "en": "Test plan"},
            "applies_to": ["shooting"], "phases": [],
            "messages": {"dispatch": {"sv": "Larm {ref}: logga in {link}", "en": "Alert {ref}: log in {link}"}},
            "escalation": {"dispatch_ack_within": "10m", "escalate_to": ["next_in_team", "coordinator"]},
        }
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        snapshot = session.scalar(
            select(PlaybookSnapshot).where(
                PlaybookSnapshot.playbook_id == playbook_id, PlaybookSnapshot.content_hash == digest)
        )
        if snapshot is None:
            snapshot = PlaybookSnapshot(playbook_id=playbook_id, version=content.get("version", 1),
                                        content_hash=digest, content=content, source_text="")
            session.add(snapshot)
            session.commit()
        return snapshot

    return factory


@pytest.fixture
def create_incident(session, create_district, create_snapshot) -> Callable:
    """An incident row (without running the playbook engine), optionally with staff assigned."""
    import secrets
    from datetime import UTC, datetime

    from crisis.incidents.access import assign
    from crisis.incidents.models import Incident, IncidentType, Outcome, ThreatLevel

    def factory(*, type: str = "shooting", district=None, coordinator=None, assigned=(),
                outcome: str = "injured", threat_level: str = "normal", snapshot=None, **fields):
        incident = Incident(
            reference=secrets.token_hex(3).upper(), type=IncidentType(type), outcome=Outcome(outcome),
            threat_level=ThreatLevel(threat_level), occurred_at=fields.pop("occurred_at", datetime.now(UTC)),
            district_id=(district or create_district()).id,
            coordinator_id=coordinator.id if coordinator else None,
            playbook_snapshot_id=(snapshot or create_snapshot()).id, **fields,
        )
        session.add(incident)
        session.flush()
        for user in assigned:
            assign(session, user.id, incident.id)
        session.commit()
        return incident

    return factory


@pytest.fixture
def create_relative(session) -> Callable:
    from crisis.incidents.models import AgeBand, ConsentState, Relation, Relative

    counter = iter(range(1, 10_000))

    def factory(incident, *, consent: str = "unknown", is_child: bool = False, phone=None,
                protected_identity: bool = False, language: str = "sv", **fields):
        n = next(counter)
        relative = Relative(
            incident_id=incident.id, label=fields.pop("label", f"Anhörig {n}"),
            relation=Relation(fields.pop("relation", "child" if is_child else "parent")), is_child=is_child,
            age_band=AgeBand(fields.pop("age_band", "13-17" if is_child else "26-64")),
            consent=ConsentState(consent),
            phone=phone, protected_identity=protected_identity, language=language, **fields,
        )
        if phone:
            from crisis.core.crypto import keyring

            relative.phone_digest = keyring.digest(phone)
        session.add(relative)
        session.commit()
        return relative

    return factory


@pytest.fixture
def create_team(session) -> Callable:
    from crisis.organisation.models import Team, TeamMember

    def factory(district, members, name: str | None = None):
        team = Team(name=name or f"Team {len(members)}-{district.id}", district_id=district.id,
                    is_sig=district.has_own_sig)
        team.members = [TeamMember(user_id=u.id, position=i) for i, u in enumerate(members, 1)]
        session.add(team)
        session.commit()
        return team

    return factory


# -- a whole response (used across capabilities) ------------------------------


@pytest.fixture
def response_setup(session, create_district, create_user, create_team):
    """A district with its own SIG team, a coordinator and two outreach workers."""
    district = create_district("farsta", has_own_sig=True, name="Farsta")
    served = create_district("sodermalm", has_own_sig=False, served_by=district, name="Södermalm")
    coordinator = create_user("coordinator", district=district, phone="+46701740605")
    workers = [create_user("outreach", district=district, phone=f"+4670174061{i}") for i in range(2)]
    team = create_team(district, workers, name="SIG Farsta")
    return {"district": district, "served": served, "coordinator": coordinator, "workers": workers,
            "team": team}


@pytest.fixture
def activate(session, response_setup):
    from crisis.incidents.services import activate_incident

    def factory(type="shooting", playbook_id="stockholm-skjutning", outcome="injured", **kwargs):
        incident = activate_incident(
            session, actor=response_setup["coordinator"], type=type, playbook_id=playbook_id,
            outcome=outcome, occurred_at=kwargs.pop("occurred_at", datetime.now(UTC) - timedelta(hours=1)),
            district_id=kwargs.pop("district_id", response_setup["district"].id), **kwargs,
        )
        session.commit()
        return incident

    return factory


# -- the browser ---------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


_BROWSER: dict = {}


def shared_chromium():
    """The run's one Playwright and Chromium, started on first use in the main thread."""
    if "browser" not in _BROWSER:
        if not Path(CHROMIUM).exists():
            pytest.fail("Debian's chromium is missing: run `make test` (it installs it with apt).")
        from playwright.sync_api import sync_playwright

        _BROWSER["playwright"] = sync_playwright().start()
        _BROWSER["browser"] = _BROWSER["playwright"].chromium.launch(executable_path=CHROMIUM,
                                                                     args=CHROMIUM_FLAGS)
    return _BROWSER["browser"]


def pytest_sessionfinish(session, exitstatus):
    if "browser" in _BROWSER:
        _BROWSER.pop("browser").close()
        _BROWSER.pop("playwright").stop()


@pytest.fixture(scope="session")
def chromium():
    """One Debian Chromium for every browser test of the run (issue 18: starting it is the slow part).

    Tests open their own contexts (cookies, viewport) and close them, so they stay independent.
    """
    return shared_chromium()
