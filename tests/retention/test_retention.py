"""Retention (gallring): personal data of long-closed incidents goes, statistics stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import String, Text, select, text

from crisis.core.crypto import EncryptedText
from crisis.core.db import db
from crisis.followups.models import FollowUp
from crisis.incidents.models import (
    AffectedPerson,
    ConsentRecord,
    Incident,
    IncidentAssignment,
    Relative,
)
from crisis.messaging.models import Message
from crisis.models import Base
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.retention.jobs import run_retention_sweep, sweep_retention
from crisis.retention.services import RetentionError, RetentionPolicy, anonymise_incident
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import AccessLog, TimelineEvent

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
FIVE_YEARS = RetentionPolicy(closed_incident_days=1826)
SECRETS = ("Fatima Testsson", "+46701740699", "Rädd för hämnd", "Omar Offer", "Muntligt samtycke",
           "Ring efter kl 16", "Nådd, ledsen", "Vill ha kontakt med Bris", "5000-K123-26", "Farsta centrum",
           "Hej Fatima")


@pytest.fixture
def closed_incident(session, create_incident, create_user, create_relative):
    """A closed incident full of personal data, closed `days_ago` before NOW."""

    def factory(days_ago: int, status: str = "closed", now: datetime = NOW):
        coordinator = create_user("coordinator")
        worker = create_user("outreach")
        closed_at = now - timedelta(days=days_ago)
        incident = create_incident(coordinator=coordinator, assigned=[worker], status=status,
                                   closed_at=closed_at if status == "closed" else None,
                                   occurred_at=closed_at - timedelta(days=30), police_reference="5000-K123-26",
                                   place="Farsta centrum")
        session.execute(IncidentAssignment.__table__.update().values(note="Känner familjen"))
        relative = create_relative(incident, consent="given", phone="+46701740699", name="Fatima Testsson",
                                   notes="Rädd för hämnd", gender="woman")
        session.add(AffectedPerson(incident_id=incident.id, label="Person 1", name="Omar Offer",
                                   outcome="deceased"))
        session.add(ConsentRecord(relative_id=relative.id, state="given", scope=["contact", "sms"],
                                  decided_at=closed_at - timedelta(days=29), note="Muntligt samtycke"))
        session.add(Task(incident_id=incident.id, relative_id=relative.id, key=f"t-{incident.id}",
                         title={"sv": "Första kontakt"}, category="outreach", status=TaskStatus.DONE,
                         completed_at=closed_at - timedelta(days=28), note="Ring efter kl 16"))
        session.add(FollowUp(incident_id=incident.id, relative_id=relative.id, key=f"f-{incident.id}",
                             label="1w", due_at=closed_at - timedelta(days=20), status="reached",
                             outcome_note="Nådd, ledsen"))
        organisation = session.scalar(select(SupportOrganisation)) or SupportOrganisation(
            code="bris", name="Bris", kind="civil_society")
        session.add(organisation)
        session.flush()
        session.add(Referral(relative_id=relative.id, organisation_id=organisation.id,
                             note="Vill ha kontakt med Bris"))
        session.add(Message(direction="outbound", purpose="followup", to_number="+46701740699",
                            counterpart_digest="x" * 64, body="Hej Fatima", incident_id=incident.id,
                            recipient_relative_id=relative.id, status="delivered"))
        session.add(Message(direction="outbound", purpose="dispatch", to_number="+46701740611",
                            counterpart_digest="y" * 64, body="Larm", incident_id=incident.id,
                            recipient_user_id=worker.id, status="delivered"))
        session.commit()
        return incident

    return factory


def text_dump(session) -> str:
    """Every text value of every table, decrypted where encrypted (what the app itself can read)."""
    values = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | EncryptedText)]
        if columns:
            for row in session.execute(select(*columns)):
                values.extend(str(v) for v in row if v is not None)
    return "\n".join(values)


def test_personal_data_of_an_incident_closed_five_years_ago_is_removed(session, closed_incident):
    incident = closed_incident(days_ago=1827)
    before = text_dump(session)
    assert all(secret in before for secret in SECRETS)

    result = sweep_retention(db.session, FIVE_YEARS, now=NOW)

    assert result.incidents_anonymised == 1
    db.session.remove()
    after = text_dump(db.session)
    leaked = [secret for secret in SECRETS if secret in after]
    assert not leaked, f"still held after retention: {leaked}"
    relative = db.session.scalar(select(Relative))
    assert relative.anonymised_at == NOW
    assert (relative.name, relative.phone, relative.phone_digest, relative.notes) == (None, None, None, None)
    assert db.session.get(Incident, incident.id).anonymised_at == NOW
    assert all(m.to_number is None and m.counterpart_digest is None and m.body == ""
               for m in db.session.scalars(select(Message)))


def test_statistics_survive_retention(session, closed_incident):
    incident = closed_incident(days_ago=2000)
    sweep_retention(db.session, FIVE_YEARS, now=NOW)
    db.session.remove()
    kept = db.session.get(Incident, incident.id)
    assert (kept.type.value, kept.outcome.value, kept.district_id) == ("shooting", "injured", incident.district_id)
    assert kept.occurred_at == incident.occurred_at and kept.closed_at == incident.closed_at
    relative = db.session.scalar(select(Relative))
    assert (relative.relation.value, relative.age_band.value, relative.gender.value, relative.consent.value,
            relative.label) == ("parent", "26-64", "woman", "given", "Anhörig 1")
    consent = db.session.scalar(select(ConsentRecord))
    assert consent.state.value == "given" and consent.scope == ["contact", "sms"]
    task = db.session.scalar(select(Task))
    assert task.status == TaskStatus.DONE and task.completed_at is not None and task.category.value == "outreach"
    assert db.session.scalar(select(FollowUp.status)).value == "reached"
    assert db.session.scalar(select(AffectedPerson.outcome)).value == "deceased"
    assert {m.status.value for m in db.session.scalars(select(Message))} == {"delivered"}


def test_retention_is_recorded_on_the_timeline_with_counts_only(session, closed_incident):
    incident = closed_incident(days_ago=1900)
    sweep_retention(db.session, FIVE_YEARS, now=NOW)
    events = {e.type: e for e in db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "retention"))}
    anonymised = events["incident.anonymised"]
    assert anonymised.incident_id == incident.id and anonymised.actor_label == "retention"
    assert anonymised.data["counts"]["relatives"] == 1 and anonymised.data["counts"]["persons"] == 1
    assert anonymised.data["counts"]["messages"] == 2
    assert events["retention.swept"].data["incidents_anonymised"] == 1
    for event in events.values():
        blob = f"{event.summary} {event.data}"
        assert not any(secret in blob for secret in SECRETS)


def test_recent_open_and_already_anonymised_incidents_are_left_alone(session, closed_incident):
    recent = closed_incident(days_ago=1825)
    still_open = closed_incident(days_ago=4000, status="follow_up")
    assert sweep_retention(db.session, FIVE_YEARS, now=NOW).incidents_anonymised == 0
    old = closed_incident(days_ago=1900)
    assert sweep_retention(db.session, FIVE_YEARS, now=NOW).incidents_anonymised == 1
    second = sweep_retention(db.session, FIVE_YEARS, now=NOW)
    assert second.incidents_anonymised == 0 and not second.anything
    db.session.remove()
    names = {r.incident_id: r.name for r in db.session.scalars(select(Relative))}
    assert names == {recent.id: "Fatima Testsson", still_open.id: "Fatima Testsson", old.id: None}


def test_only_closed_incidents_can_be_anonymised(session, closed_incident):
    incident = closed_incident(days_ago=10, status="active")
    with pytest.raises(RetentionError, match="not closed"):
        anonymise_incident(db.session, db.session.get(Incident, incident.id), now=NOW)


def test_an_edit_based_on_the_record_before_retention_is_refused(session, closed_incident):
    from crisis.incidents.services import StaleVersion
    from crisis.tasks.services import update_task

    closed_incident(days_ago=1900)
    task = db.session.scalar(select(Task))
    version = task.version
    db.session.commit()
    sweep_retention(db.session, FIVE_YEARS, now=NOW)
    db.session.remove()
    task = db.session.scalar(select(Task))
    with pytest.raises(StaleVersion):
        update_task(db.session, task, actor=None, expected_version=version, note="Ring efter kl 16")


def test_contact_details_can_go_sooner(session, closed_incident):
    incident = closed_incident(days_ago=400)
    policy = RetentionPolicy(closed_incident_days=1826, relative_contact_days=365)
    result = sweep_retention(db.session, policy, now=NOW)
    assert result.contact_details_removed == 1 and result.incidents_anonymised == 0
    db.session.remove()
    relative = db.session.scalar(select(Relative))
    assert relative.phone is None and relative.phone_digest is None
    assert relative.name == "Fatima Testsson" and relative.anonymised_at is None  # the record itself stays
    to_relative, to_staff = db.session.scalars(select(Message).order_by(Message.id)).all()
    assert to_relative.to_number is None and to_relative.body == "Hej Fatima"
    assert to_staff.to_number == "+46701740611"  # staff alerts keep theirs until full retention
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.type == "incident.contact_details_removed"))
    assert event.incident_id == incident.id and event.data["counts"]["relatives"] == 1
    assert sweep_retention(db.session, policy, now=NOW).contact_details_removed == 0


def test_the_access_log_is_kept(session, closed_incident, create_user):
    from crisis.timeline.services import log_access

    incident = closed_incident(days_ago=1900)
    relative = db.session.scalar(select(Relative))
    log_access(db.session, user=create_user("coordinator"), relative=relative, action="view", reason="Samtal")
    db.session.commit()
    sweep_retention(db.session, FIVE_YEARS, now=NOW)
    entry = db.session.scalar(select(AccessLog))
    assert (entry.relative_id, entry.incident_id, entry.action) == (relative.id, incident.id, "view")


def test_the_scheduler_runs_the_sweep_with_the_configured_period(app, monkeypatch, closed_incident):
    from crisis.scheduler import registered_jobs

    assert "retention.sweep" in {job.id for job in registered_jobs()}
    closed_incident(days_ago=40, now=datetime.now(UTC))
    monkeypatch.setitem(app.config, "RETENTION_CLOSED_INCIDENT_DAYS", 30)
    with app.app_context():
        result = run_retention_sweep()
    assert result.incidents_anonymised == 1


def test_typed_text_in_the_incidents_timeline_goes_too(session, closed_incident):
    from crisis.timeline.services import record_event

    incident = closed_incident(days_ago=1900)
    record_event(session, kind="incident", type="incident.updated", incident_id=incident.id,
                 summary="Facts changed: place", data={"place": {"before": "", "after": "Farsta centrum"},
                                                        "status": {"before": "active", "after": "closed"}})
    session.commit()
    sweep_retention(db.session, FIVE_YEARS, now=NOW)
    db.session.remove()
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.type == "incident.updated"))
    assert event.data == {"place": {"before": "", "after": "(removed by retention)"},
                          "status": {"before": "active", "after": "closed"}}


def test_a_database_dump_after_retention_shows_no_name_or_number(session, closed_incident):
    closed_incident(days_ago=1900)
    sweep_retention(db.session, FIVE_YEARS, now=NOW)
    raw = []
    for table in Base.metadata.sorted_tables:
        for row in db.session.execute(text(f'SELECT * FROM "{table.name}"')):
            raw.extend(str(v) for v in row if v is not None)
    dump = " ".join(raw)
    assert "Fatima" not in dump and "0701740699" not in dump and "Omar" not in dump
