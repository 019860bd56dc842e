"""Dispatches: a team or person sent to an incident or a visit, acknowledged or escalated."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.db import Base, UTCDateTime, str_enum, utcnow


class DispatchStatus(enum.StrEnum):
    PENDING = "pending"  # sent, waiting for acknowledgement
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"  # nobody acknowledged, coordinator told (may still acknowledge)
    CANCELLED = "cancelled"


class Dispatch(Base):
    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint("team_id IS NOT NULL OR user_id IS NOT NULL", name="has_recipient"),
        CheckConstraint("escalation_level >= 0", name="level_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(20), default="incident")  # incident | visit
    status: Mapped[DispatchStatus] = mapped_column(
        str_enum(DispatchStatus, "dispatch_status"), default=DispatchStatus.PENDING, index=True
    )
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    ack_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ack_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Issue 12: why the coordinator was alerted at once (opted_out, no_number, off_duty, on_call_unreachable...).
    unreachable_reason: Mapped[str | None] = mapped_column(String(40))

    attempts: Mapped[list[DispatchAttempt]] = relationship(
        back_populates="dispatch", order_by=lambda: [DispatchAttempt.level, DispatchAttempt.id],
        cascade="all, delete-orphan",
    )
    incident: Mapped["Incident"] = relationship()  # noqa: F821, UP037
    task: Mapped["Task | None"] = relationship()  # noqa: F821, UP037
    team: Mapped["Team | None"] = relationship()  # noqa: F821, UP037
    user: Mapped["User | None"] = relationship(foreign_keys=[user_id])  # noqa: F821, UP037
    acknowledged_by: Mapped["User | None"] = relationship(foreign_keys=[acknowledged_by_id])  # noqa: F821, UP037
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821, UP037

    @property
    def is_open(self) -> bool:
        """Still waiting for someone to take it (pending, or escalated to the coordinator)."""
        return self.status in (DispatchStatus.PENDING, DispatchStatus.EXHAUSTED)

    @property
    def reference(self) -> str:
        """What the SMS and the reply carry: the incident's random reference and the dispatch number."""
        return f"{self.incident.reference}-{self.id}"


class DispatchAttempt(Base):
    """One person alerted at one escalation level."""

    __tablename__ = "dispatch_attempts"
    __table_args__ = (UniqueConstraint("dispatch_id", "level", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dispatch: Mapped[Dispatch] = relationship(back_populates="attempts")
    user: Mapped["User"] = relationship()  # noqa: F821, UP037
    message: Mapped["Message | None"] = relationship()  # noqa: F821, UP037
