"""The append-only timeline and the access log of relatives' records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedJSON, EncryptedText
from crisis.core.db import Base, UTCDateTime, utcnow

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
EventId = BigInteger().with_variant(Integer, "sqlite")


class TimelineEvent(Base):
    """One change, as it happened (shape after Indico's log entries).

    `summary` and `data` never hold names or phone numbers: they are shown on
    the dashboard and exported for case reviews. The event id orders events
    and lets a reconnecting dashboard ask for what it missed.
    """

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(60), default="")  # "scheduler", "twilio"
    kind: Mapped[str] = mapped_column(String(20), index=True)  # incident, task, relative, ...
    type: Mapped[str] = mapped_column(String(60))  # "task.status_changed"
    subject_type: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300))
    # Encrypted (issue 14): before/after values of typed facts; readers get the plain dict.
    data: Mapped[dict] = mapped_column(EncryptedJSON, default=dict)

    actor: Mapped["User | None"] = relationship()  # noqa: F821, UP037

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "occurred_at": self.occurred_at.isoformat(),
            "actor_id": self.actor_id,
            "actor": self.actor_label,
            "kind": self.kind,
            "type": self.type,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "summary": self.summary,
            "data": self.data,
        }


class AccessLog(Base):
    """Who opened which relative's record, when and why (logguppföljning, docs/domain.md "Access logging")."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    relative_id: Mapped[int | None] = mapped_column(ForeignKey("relatives.id", ondelete="SET NULL"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(30))  # view, export, call, data_subject_export
    reason: Mapped[str | None] = mapped_column(EncryptedText)  # required for protected identity; encrypted
    assigned: Mapped[bool] = mapped_column(default=True)  # was the user assigned to the incident?
