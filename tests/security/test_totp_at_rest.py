"""Finding 6 (issue 14): two-factor secrets are encrypted at rest, the migration encrypts existing rows,
and `crisis keys rotate` covers them (and every other column issue 14 encrypts)."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text

from crisis.auth.models import User
from crisis.cli import main
from crisis.core import migrate
from crisis.core.crypto import keyring
from crisis.core.db import db
from crisis.keys_cli import encrypted_columns
from crisis.models import Base
from tests.conftest import login

KEY_B = Fernet.generate_key().decode()


def raw(sql: str, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_the_stored_secret_is_ciphertext_and_login_still_works(client, create_user):
    user = create_user("coordinator")
    stored = raw("SELECT totp_secret FROM users WHERE id = :id", id=user.id)
    secret = db.session.scalar(select(User.totp_secret).where(User.id == user.id))
    assert stored.startswith("enc1:") and secret not in stored and len(secret) == 32
    assert login(client, user.email).status_code == 302


def test_key_rotation_covers_the_secrets_and_the_newly_encrypted_columns(app, client, create_user):
    covered = {f"{t.name}.{c.name}" for t, c in encrypted_columns(Base.metadata)}
    assert {"users.totp_secret", "incidents.place", "incidents.police_reference", "access_log.reason",
            "tasks.title", "tasks.description", "timeline_events.data", "export_requests.reason"} <= covered
    user = create_user("coordinator")
    current = [key.decode() for key in keyring._keys]  # the test app's (development) key
    try:
        db.session.remove()
        keyring.configure([KEY_B, *current], app.config["SECRET_KEY"])
        result = app.test_cli_runner().invoke(main, ["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "users.totp_secret: 1 value(s) re-encrypted" in result.output
        db.session.remove()
        keyring.configure([KEY_B], app.config["SECRET_KEY"])  # the old key removed
        assert login(client, user.email).status_code == 302
    finally:
        db.session.remove()
        keyring.configure(app.config["ENCRYPTION_KEYS"], app.config["SECRET_KEY"])


def test_the_migration_encrypts_existing_rows(tmp_path, app):
    engine = create_engine(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, name, availability, language, active, session_generation,"
                          " totp_secret, created_at) VALUES (1, 'a@example.se', 'A', 'available', 'sv', 1, 0,"
                          " 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO timeline_events (id, occurred_at, actor_label, kind, type, summary, data)"
                          " VALUES (1, '2026-01-01 00:00:00', '', 'incident', 'incident.facts_changed', 's', :d)"),
                     {"d": json.dumps({"place": {"before": "Farsta torg", "after": "Hökarängen"}})})
    migrate.upgrade(engine, "head")
    with engine.connect() as conn:
        secret = conn.execute(text("SELECT totp_secret FROM users")).scalar()
        data = conn.execute(text("SELECT data FROM timeline_events")).scalar()
    assert secret.startswith("enc1:") and keyring.decrypt(secret) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    assert "Farsta" not in data and json.loads(keyring.decrypt(data))["place"]["before"] == "Farsta torg"
    migrate.downgrade(engine, "0001")  # and back: plain again
    with engine.connect() as conn:
        assert conn.execute(text("SELECT totp_secret FROM users")).scalar() == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("column", ["totp_secret"])
def test_no_secret_is_compared_in_sql(column):
    # Fernet tokens differ each time: a lookup by secret would silently match nothing.
    import inspect

    from crisis.auth import twofactor

    assert f"User.{column} ==" not in inspect.getsource(twofactor)
