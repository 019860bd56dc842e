"""Tasks: one row per thing someone must do, from a playbook step or ad hoc."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedJSON, EncryptedText
from crisis.core.db import Base, UTCDateTime, str_enum, utcnow
from crisis.core.textsafety import strip_controls, strip_controls_from_texts


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    NOT_APPLICABLE = "not_applicable"
    CANCELLED = "cancelled"  # the playbook condition no longer holds

    @property
    def is_closed(self) -> bool:
        return self in {TaskStatus.DONE, TaskStatus.NOT_APPLICABLE, TaskStatus.CANCELLED}


class TaskCategory(enum.StrEnum):
    OUTREACH = "outreach"
    CRISIS_SUPPORT = "crisis_support"
    PRACTICAL_HELP = "practical_help"
    CHILDREN = "children"
    SAFETY = "safety"
    COORDINATION = "coordination"
    REFERRAL = "referral"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # Re-applying a playbook never duplicates: one row per planner key.
        UniqueConstraint("incident_id", "key"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(status IN ('done') AND completed_at IS NOT NULL) OR status <> 'done'",
            name="done_has_completed_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    relative_id: Mapped[int | None] = mapped_column(ForeignKey("relatives.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("affected_persons.id", ondelete="CASCADE"))
    key: Mapped[str | None] = mapped_column(String(200))  # planner key; NULL for ad hoc tasks
    phase_id: Mapped[str | None] = mapped_column(String(100))
    step_id: Mapped[str | None] = mapped_column(String(100))
    # Language maps {"sv": ..., "en": ...}; encrypted (issue 14): ad hoc tasks hold typed text.
    title: Mapped[dict] = mapped_column(EncryptedJSON)
    description: Mapped[dict | None] = mapped_column(EncryptedJSON)
    category: Mapped[TaskCategory] = mapped_column(str_enum(TaskCategory, "task_category"))
    agency: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20), default="outreach")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    due_anchor: Mapped[str | None] = mapped_column(String(20))
    due_offset: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[TaskStatus] = mapped_column(
        str_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN, index=True
    )
    checklist: Mapped[list] = mapped_column(JSON, default=list)  # [{"text": {...}, "done": bool}]
    source: Mapped[list] = mapped_column(JSON, default=list)  # [{"ref": ..., "quote": ...}]
    suggested_referrals: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(EncryptedText)
    # Why the task is blocked (issue 18): required with "blocked", shown on the dashboard card,
    # so it names no person (the form says so).
    blocked_reason: Mapped[str | None] = mapped_column(String(200))
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    incident: Mapped["Incident"] = relationship()  # noqa: F821, UP037
    relative: Mapped["Relative | None"] = relationship()  # noqa: F821, UP037
    owner: Mapped["User | None"] = relationship()  # noqa: F821, UP037
    owner_team: Mapped["Team | None"] = relationship()  # noqa: F821, UP037

    __mapper_args__ = {"version_id_col": version}

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title.get("sv") or next(iter(self.title.values()), "")


# No bidirectional controls in typed text (crisis.core.textsafety).
strip_controls(Task.note)
strip_controls_from_texts(Task.title, Task.description)
