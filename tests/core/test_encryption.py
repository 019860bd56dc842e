"""A database dump alone reveals no relative's name or phone number."""

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from crisis.core.crypto import KeyRing, keyring
from crisis.incidents.models import Incident, Relative
from crisis.playbooks.models import PlaybookSnapshot


def test_relative_name_phone_and_notes_are_encrypted_at_rest(session, create_district):
    district = create_district()
    snap = PlaybookSnapshot(playbook_id="t", version=1, content_hash="1" * 64, content={}, source_text="")
    session.add(snap)
    session.flush()
    incident = Incident(reference="E1", type="shooting", occurred_at=datetime.now(UTC),
                        district_id=district.id, playbook_snapshot_id=snap.id)
    session.add(incident)
    session.flush()
    session.add(Relative(incident_id=incident.id, label="Anhörig 1", relation="parent",
                         name="Fatima Testsson", phone="+46701740699", notes="Rädd för hämnd"))
    session.commit()
    raw = session.execute(text("SELECT name, phone, notes FROM relatives")).one()
    dump = " ".join(raw)
    for secret in ("Fatima", "Testsson", "0701740699", "+46701740699", "hämnd"):
        assert secret not in dump
    assert session.scalar(text("SELECT count(*) FROM relatives")) == 1
    loaded = session.query(Relative).one()
    assert (loaded.name, loaded.phone) == ("Fatima Testsson", "+46701740699")


def test_rotation_keeps_old_values_readable():
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    ring = KeyRing()
    ring.configure([old_key], "s")
    token = ring.encrypt("Anna")
    ring.configure([new_key, old_key], "s")
    assert ring.decrypt(token) == "Anna"
    rotated = ring.rotate(token)
    ring.configure([new_key], "s")
    assert ring.decrypt(rotated) == "Anna"
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        ring.decrypt(token)


def test_phone_digest_matches_under_any_listed_key(app):
    assert keyring.digest("+46701740605") in keyring.digests("+46701740605")
    assert keyring.digest("+46701740605") != keyring.digest("+46701740606")
