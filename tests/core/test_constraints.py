"""The database itself refuses bad rows, not only the Python code."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from crisis.incidents.models import Incident, Relative
from crisis.organisation.models import District, Team, TeamMember
from crisis.playbooks.models import PlaybookSnapshot


@pytest.fixture
def snapshot(session):
    snap = PlaybookSnapshot(playbook_id="test", version=1, content_hash="0" * 64,
                            content={"id": "test"}, source_text="id: test")
    session.add(snap)
    session.commit()
    return snap


@pytest.fixture
def incident(session, create_district, snapshot):
    district = create_district()
    incident = Incident(reference="T1", type="shooting", occurred_at=datetime.now(UTC),
                        district_id=district.id, playbook_snapshot_id=snapshot.id)
    session.add(incident)
    session.commit()
    return incident


def refused(session, statement: str, **params) -> None:
    with pytest.raises(IntegrityError):
        session.execute(text(statement), params)
        session.flush()
    session.rollback()


def test_district_with_own_sig_cannot_be_served_by_another(session, create_district):
    other = create_district()
    session.add(District(code="x", name="X", has_own_sig=True, sig_served_by_id=other.id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_unique_district_code(session, create_district):
    create_district("farsta")
    session.add(District(code="farsta", name="Annat namn"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_enum_columns_are_checked_by_the_database(session, incident):
    refused(session, "UPDATE incidents SET type = 'burglary' WHERE id = :id", id=incident.id)
    refused(session, "UPDATE incidents SET threat_level = 'bogus' WHERE id = :id", id=incident.id)


def test_foreign_keys_are_enforced(session, incident):
    refused(session, "UPDATE incidents SET district_id = 999999 WHERE id = :id", id=incident.id)


def test_not_null_is_enforced(session, incident):
    refused(session, "UPDATE incidents SET occurred_at = NULL WHERE id = :id", id=incident.id)


def test_reported_cannot_precede_occurred(session, incident):
    session.add(Incident(reference="T2", type="shooting", district_id=incident.district_id,
                         occurred_at=datetime.now(UTC), reported_at=datetime.now(UTC) - timedelta(hours=1),
                         playbook_snapshot_id=incident.playbook_snapshot_id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_child_relative_must_have_a_child_age_band(session, incident):
    session.add(Relative(incident_id=incident.id, label="A1", relation="child", is_child=True,
                         age_band="26-64"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_team_on_call_positions_are_unique(session, create_district, create_user):
    district = create_district()
    a, b = create_user("outreach"), create_user("outreach")
    team = Team(name="T", district_id=district.id)
    team.members = [TeamMember(user_id=a.id, position=1), TeamMember(user_id=b.id, position=1)]
    session.add(team)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_naive_datetimes_are_refused(session, incident):
    incident.death_at = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(StatementError):
        session.commit()
    session.rollback()


def test_timestamps_come_back_aware_in_utc(session, incident):
    from zoneinfo import ZoneInfo

    stockholm = datetime(2026, 6, 1, 2, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    incident.death_at = stockholm
    session.commit()
    session.expire_all()
    loaded = session.get(Incident, incident.id)
    assert loaded.death_at.tzinfo is not None
    assert loaded.death_at == stockholm
    assert loaded.death_at.utcoffset() == timedelta(0)


def test_stale_update_is_refused_by_version(session, incident):
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    from crisis.core.db import db

    other = Session(bind=db.engine)
    mine = other.get(Incident, incident.id)
    incident.place = "Farsta centrum"
    session.commit()
    mine.place = "Hökarängen"
    with pytest.raises(StaleDataError):
        other.commit()
    other.close()
