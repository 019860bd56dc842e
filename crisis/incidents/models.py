"""Incidents, the people they concern, and their relatives (anhöriga)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedText
from crisis.core.db import Base, UTCDateTime, str_enum, utcnow
from crisis.core.textsafety import strip_controls


class IncidentType(enum.StrEnum):
    SHOOTING = "shooting"
    LETHAL_VIOLENCE = "lethal_violence"
    THREAT_AGAINST_RELATIVES = "threat_against_relatives"


class Outcome(enum.StrEnum):
    """Outcome for the incident as a whole: the gravest of its persons."""

    NONE = "none"
    INJURED = "injured"
    DECEASED = "deceased"


class ThreatLevel(enum.StrEnum):
    NORMAL = "normal"
    RAISED = "raised"
    HIGH = "high"


class IncidentStatus(enum.StrEnum):
    ACTIVE = "active"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


class ConsentState(enum.StrEnum):
    UNKNOWN = "unknown"
    GIVEN = "given"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Gender(enum.StrEnum):
    WOMAN = "woman"
    MAN = "man"
    OTHER = "other"
    UNKNOWN = "unknown"


class AgeBand(enum.StrEnum):
    """Bands used by the relatives' consultants' statistics (seed 004, 3.6.1)."""

    CHILD_0_12 = "0-12"
    CHILD_13_17 = "13-17"
    ADULT_18_25 = "18-25"
    ADULT_26_64 = "26-64"
    ADULT_65 = "65+"
    UNKNOWN = "unknown"


class Relation(enum.StrEnum):
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    PARTNER = "partner"
    GRANDPARENT = "grandparent"
    OTHER_FAMILY = "other_family"
    FRIEND = "friend"
    OTHER = "other"


class ContactChannel(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    VISIT = "visit"
    LETTER = "letter"
    INTERPRETER_CALL = "interpreter_call"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("reported_at IS NULL OR occurred_at <= reported_at", name="reported_after_occurred"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A short random reference: safe to put in an SMS, reveals nothing.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    type: Mapped[IncidentType] = mapped_column(str_enum(IncidentType, "incident_type"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    place: Mapped[str] = mapped_column(EncryptedText, default="")  # coarse: area, never an address; encrypted
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "outcome"), default=Outcome.NONE)
    police_reference: Mapped[str | None] = mapped_column(EncryptedText)
    threat_level: Mapped[ThreatLevel] = mapped_column(
        str_enum(ThreatLevel, "threat_level"), default=ThreatLevel.NORMAL
    )
    status: Mapped[IncidentStatus] = mapped_column(
        str_enum(IncidentStatus, "incident_status"), default=IncidentStatus.ACTIVE, index=True
    )
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    playbook_snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("playbook_snapshots.id", ondelete="RESTRICT")
    )
    # Facts learned later that playbook deadlines anchor to (docs/domain.md "Practical help after a death").
    death_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    funeral_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    judgment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An activation made by mistake, withdrawn within 24 h (issue 18): the incident leaves the
    # dashboard and the statistics but stays, with the reason, in the timeline.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    district: Mapped["District"] = relationship()  # noqa: F821, UP037
    coordinator: Mapped["User | None"] = relationship(foreign_keys=[coordinator_id])  # noqa: F821, UP037
    playbook_snapshot: Mapped["PlaybookSnapshot"] = relationship()  # noqa: F821, UP037
    persons: Mapped[list[AffectedPerson]] = relationship(
        back_populates="incident", order_by="AffectedPerson.id", cascade="all, delete-orphan"
    )
    relatives: Mapped[list[Relative]] = relationship(
        back_populates="incident", order_by="Relative.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Incident {self.reference}>"


class AffectedPerson(Base):
    """The person concerned (den närstående): injured, killed or threatened."""

    __tablename__ = "affected_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(60))  # "Person 1": what lists show
    name: Mapped[str | None] = mapped_column(EncryptedText)
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "person_outcome"), default=Outcome.NONE)
    death_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gender: Mapped[Gender] = mapped_column(str_enum(Gender, "person_gender"), default=Gender.UNKNOWN)
    age_band: Mapped[AgeBand] = mapped_column(str_enum(AgeBand, "person_age_band"), default=AgeBand.UNKNOWN)
    # If the person is a client of social services, their case worker must
    # not become a relative's contact person (seed 000, "Råd och stöd").
    case_worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="persons")
    case_worker: Mapped["User | None"] = relationship()  # noqa: F821, UP037


class Relative(Base):
    __tablename__ = "relatives"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(is_child AND age_band IN ('0-12', '13-17', 'unknown')) OR "
            "(NOT is_child AND age_band NOT IN ('0-12', '13-17'))",
            name="child_matches_age_band",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("affected_persons.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(60))  # "Anhörig 2": what lists and dashboards show
    name: Mapped[str | None] = mapped_column(EncryptedText)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    relation: Mapped[Relation] = mapped_column(str_enum(Relation, "relation"))
    is_child: Mapped[bool] = mapped_column(Boolean, default=False)
    age_band: Mapped[AgeBand] = mapped_column(str_enum(AgeBand, "age_band"), default=AgeBand.UNKNOWN)
    gender: Mapped[Gender] = mapped_column(str_enum(Gender, "gender"), default=Gender.UNKNOWN)
    language: Mapped[str] = mapped_column(String(8), default="sv")
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_channel: Mapped[ContactChannel] = mapped_column(
        str_enum(ContactChannel, "contact_channel"), default=ContactChannel.PHONE
    )
    # Skyddade personuppgifter: never an SMS, masked in lists, access logged with a reason.
    protected_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    consent: Mapped[ConsentState] = mapped_column(
        str_enum(ConsentState, "consent_state"), default=ConsentState.UNKNOWN
    )
    contact_person_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(EncryptedText)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    incident: Mapped[Incident] = relationship(back_populates="relatives")
    person: Mapped[AffectedPerson | None] = relationship()
    contact_person: Mapped["User | None"] = relationship()  # noqa: F821, UP037
    consent_records: Mapped[list[ConsentRecord]] = relationship(
        back_populates="relative", order_by="ConsentRecord.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class ConsentScope(enum.StrEnum):
    CONTACT = "contact"  # social services may contact the relative
    SMS = "sms"  # ... also by SMS
    SHARE_WITH_SCHOOL = "share_with_school"
    SHARE_WITH_POLICE = "share_with_police"
    REFERRAL = "referral"  # pass details to a support organisation


class ConsentRecord(Base):
    """Who consented (samtycke) to what, when, and who recorded it (docs/domain.md "Consent")."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint("state IN ('given', 'declined', 'withdrawn')", name="state_recorded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("relatives.id", ondelete="CASCADE"), index=True)
    state: Mapped[ConsentState] = mapped_column(str_enum(ConsentState, "consent_record_state"))
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    method: Mapped[str] = mapped_column(String(20), default="verbal")  # verbal, written, guardian
    given_by: Mapped[str] = mapped_column(String(20), default="relative")  # relative, guardian
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    relative: Mapped[Relative] = relationship(back_populates="consent_records")
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821, UP037


class IncidentAssignment(Base):
    """Staff assigned to an incident: who may see it (issue 9's access matrix)."""

    __tablename__ = "incident_assignments"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    # The dispatch whose alert gave this access (issue 14): withdrawn when someone else acknowledges.
    via_dispatch_id: Mapped[int | None] = mapped_column(Integer)


# No bidirectional controls in names and typed text (crisis.core.textsafety).
strip_controls(Relative.name, Relative.label, Relative.notes, AffectedPerson.name, AffectedPerson.label,
               Incident.place, Incident.police_reference, ConsentRecord.note)
