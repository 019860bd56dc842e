"""Planned follow-up contacts with relatives, as rows the scheduler sweeps."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedText
from crisis.core.db import Base, UTCDateTime, str_enum, utcnow


class FollowUpStatus(enum.StrEnum):
    PLANNED = "planned"
    REACHED = "reached"
    NOT_REACHED = "not_reached"  # a retry is planned as a new due date
    DECLINED = "declined"  # relative declined further contact
    CANCELLED = "cancelled"


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("incident_id", "key"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("relatives.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(20))  # "1d", "1w", "12mo"
    planned_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as the playbook says
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # after holiday shift/reschedule
    acute: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[FollowUpStatus] = mapped_column(
        str_enum(FollowUpStatus, "followup_status"), default=FollowUpStatus.PLANNED, index=True
    )
    outcome_note: Mapped[str | None] = mapped_column(EncryptedText)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Claim by a scheduler sweep; stale claims are released and retried.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    relative: Mapped["Relative"] = relationship()  # noqa: F821, UP037
    owner: Mapped["User | None"] = relationship()  # noqa: F821, UP037

    __mapper_args__ = {"version_id_col": version}
