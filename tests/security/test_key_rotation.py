"""`crisis keys rotate`: everything encrypted with key A is readable with key B alone afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from crisis.cli import main
from crisis.core.crypto import keyring
from crisis.core.db import db
from crisis.keys_cli import encrypted_columns, values_under_old_keys
from crisis.models import Base

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
NUMBER = "+46701740699"


@pytest.fixture
def keys(app):
    """Set ENCRYPTION_KEYS for the test; the app's own keys come back afterwards."""

    def use(*listed: str) -> None:
        db.session.remove()  # nothing decrypted under the old ring stays cached
        keyring.configure(list(listed), app.config["SECRET_KEY"])

    yield use
    db.session.remove()
    keyring.configure(app.config["ENCRYPTION_KEYS"], app.config["SECRET_KEY"])


def run(app, *args: str):
    result = app.test_cli_runner().invoke(main, ["keys", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_generate_prints_a_usable_key(app):
    Fernet(run(app, "generate").strip().encode())


def test_rotation_moves_every_value_and_digest_to_the_newest_key(app, keys, session, create_incident,
                                                                 create_user):
    from crisis.incidents.models import AffectedPerson, ConsentRecord, Relative
    from crisis.messaging.models import SmsOptOut
    from crisis.messaging.services import is_opted_out, queue_sms, receive_inbound
    from crisis.tasks.models import Task

    keys(KEY_A)
    coordinator = create_user("coordinator")
    incident = create_incident(coordinator=coordinator)
    relative = Relative(incident_id=incident.id, label="Anhörig 1", relation="parent", name="Fatima Testsson",
                        phone=NUMBER, phone_digest=keyring.digest(NUMBER), notes="Rädd för hämnd",
                        consent="given")
    session.add_all([relative, AffectedPerson(incident_id=incident.id, label="Person 1", name="Omar Offer")])
    session.flush()
    session.add(ConsentRecord(relative_id=relative.id, state="given", scope=["contact", "sms"],
                              decided_at=datetime.now(UTC), note="Muntligt i telefon"))
    session.add(Task(incident_id=incident.id, relative_id=relative.id, title={"sv": "Kontakt"},
                     category="outreach", note="Ring efter kl 16"))
    queue_sms(session, to=NUMBER, body="Hej från socialtjänsten", purpose="followup",
              incident_id=incident.id, recipient_relative_id=relative.id)
    receive_inbound(session, {"MessageSid": "SM1", "From": NUMBER, "To": "+46700000000", "Body": "STOPP"})
    session.commit()
    relative_id = relative.id
    assert session.scalar(select(SmsOptOut.phone_digest)) == keyring.digest(NUMBER)

    keys(KEY_B, KEY_A)
    assert values_under_old_keys(db.session, Base.metadata) > 0
    output = run(app, "rotate")
    assert "relatives.name: 1 value(s) re-encrypted" in output
    assert "sms_opt_outs: 1 re-keyed" in output
    assert values_under_old_keys(db.session, Base.metadata) == 0
    # Idempotent: a second run has nothing to do.
    again = run(app, "rotate")
    assert "relatives.name: 0 value(s) re-encrypted" in again and "sms_opt_outs: 0 re-keyed" in again

    keys(KEY_B)  # the old key is gone
    loaded = db.session.get(Relative, relative_id)
    assert (loaded.name, loaded.phone, loaded.notes) == ("Fatima Testsson", NUMBER, "Rädd för hämnd")
    assert loaded.phone_digest == keyring.digest(NUMBER)
    assert loaded.consent_records[0].note == "Muntligt i telefon"
    assert db.session.scalar(select(Task.note)) == "Ring efter kl 16"
    assert db.session.scalar(select(AffectedPerson.name)) == "Omar Offer"
    # Every encrypted column of every table reads back under B alone.
    for _table, column in encrypted_columns(Base.metadata):
        db.session.execute(select(column)).all()
    # The opt-out still holds, and the number is found by its digest.
    assert is_opted_out(db.session, NUMBER)
    from crisis.messaging.services import people_with_number

    assert [r.id for r in people_with_number(db.session, NUMBER)[1]] == [relative_id]
    # And the dump still shows nothing in clear.
    dump = " ".join(str(v) for row in db.session.execute(text("SELECT name, phone, notes FROM relatives"))
                    for v in row)
    assert "Fatima" not in dump and NUMBER not in dump


def test_without_rotation_the_old_values_are_unreadable_once_the_key_is_gone(app, keys, session,
                                                                             create_incident):
    from crisis.incidents.models import Relative

    keys(KEY_A)
    incident = create_incident()
    relative = Relative(incident_id=incident.id, label="Anhörig 1", relation="parent", name="Anna")
    session.add(relative)
    session.commit()
    keys(KEY_B)
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        db.session.get(Relative, relative.id).name  # noqa: B018
