"""A team's repeating rotation and its overrides."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.db import Base, UTCDateTime, utcnow


class Rotation(Base):
    """A cycle of `cycle_days` days starting on `starts_on` (Stockholm wall time), repeated for ever.

    Its shifts tile the cycle exactly: no gap, no overlap (checked when saved).
    """

    __tablename__ = "oncall_rotations"
    __table_args__ = (CheckConstraint("cycle_days BETWEEN 1 AND 366", name="cycle_days_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    cycle_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    shifts: Mapped[list[RotationShift]] = relationship(
        back_populates="rotation", order_by="RotationShift.start_minute", cascade="all, delete-orphan"
    )
    team: Mapped["Team"] = relationship()  # noqa: F821, UP037


class RotationShift(Base):
    """One shift of the cycle, in wall-clock minutes from the cycle's first midnight."""

    __tablename__ = "oncall_rotation_shifts"
    __table_args__ = (
        UniqueConstraint("rotation_id", "start_minute"),
        CheckConstraint("start_minute >= 0 AND end_minute > start_minute", name="shift_forward"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rotation_id: Mapped[int] = mapped_column(ForeignKey("oncall_rotations.id", ondelete="CASCADE"), index=True)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    rotation: Mapped[Rotation] = relationship(back_populates="shifts")
    user: Mapped["User"] = relationship()  # noqa: F821, UP037


class Override(Base):
    """Someone else on call for a while: a swapped shift, sick leave."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="override_forward"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(20), default="swap")  # swap, sick_leave, other
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped["User"] = relationship(foreign_keys=[user_id])  # noqa: F821, UP037
