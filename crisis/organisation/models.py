"""Districts (stadsdelsförvaltningar) and outreach teams."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.db import Base


class District(Base):
    """A district administration; districts are data, not code (seed 000 lists 13, seed 004 11)."""

    __tablename__ = "districts"
    __table_args__ = (
        # A district with its own SIG is not served by another's (seed 003: Södermalm buys SIG).
        CheckConstraint(
            "NOT (has_own_sig AND sig_served_by_id IS NOT NULL)", name="own_sig_or_served"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    has_own_sig: Mapped[bool] = mapped_column(Boolean, default=False)
    sig_served_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("districts.id", ondelete="RESTRICT")
    )

    sig_served_by: Mapped[District | None] = relationship(remote_side=[id])

    @property
    def sig_district(self) -> District | None:
        """The district whose SIG serves this one (itself if it has its own)."""
        if self.has_own_sig:
            return self
        return self.sig_served_by

    def __repr__(self) -> str:
        return f"<District {self.code}>"


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("district_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"))
    # Teams of a district with SIG are that SIG's outreach capacity.
    is_sig: Mapped[bool] = mapped_column(Boolean, default=False)

    district: Mapped[District] = relationship()
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", order_by="TeamMember.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name}>"


class TeamMember(Base):
    """Membership with the on-call order used when a dispatch escalates."""

    __tablename__ = "team_members"
    __table_args__ = (
        UniqueConstraint("team_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped["User"] = relationship()  # noqa: F821, UP037


class DefaultPlaybook(Base):
    """The playbook a new response of this incident type starts from (the city's organisation file)."""

    __tablename__ = "default_playbooks"

    incident_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    playbook_id: Mapped[str] = mapped_column(String(100))
