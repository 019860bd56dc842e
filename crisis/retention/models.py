"""Requests for a data-subject export of a relative with protected identity (issue 14, finding 8)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedText
from crisis.core.db import Base, UTCDateTime, utcnow


class ExportRequest(Base):
    """One person asks, a second authorised person approves, then the first downloads once."""

    __tablename__ = "export_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("relatives.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, approved, exported
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    relative: Mapped["Relative"] = relationship()  # noqa: F821, UP037
