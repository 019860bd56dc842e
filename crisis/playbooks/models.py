"""A playbook as pinned by the incidents activated with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.core.db import Base, UTCDateTime, utcnow


class PlaybookSnapshot(Base):
    """Exact playbook content an incident keeps even after the file changes."""

    __tablename__ = "playbook_snapshots"
    __table_args__ = (UniqueConstraint("playbook_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON)
    source_text: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def title(self, lang: str = "sv") -> str:
        titles = self.content.get("title", {})
        return titles.get(lang) or titles.get("sv") or self.playbook_id
