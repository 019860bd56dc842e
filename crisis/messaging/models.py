"""SMS as rows: the transactional outbox, its status history and opt-outs."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedText
from crisis.core.db import Base, UTCDateTime, str_enum, utcnow


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"  # row written, not yet handed to the provider
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    RECEIVED = "received"  # inbound
    EXPIRED = "expired"  # validity ran out before it could be sent

    @property
    def rank(self) -> int:
        """Order of progress: a callback never moves a message backwards."""
        return _RANK[self]


_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.RECEIVED: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.EXPIRED: 3,
}


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint(
            "recipient_user_id IS NULL OR recipient_relative_id IS NULL", name="one_recipient"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    purpose: Mapped[str] = mapped_column(String(40))  # dispatch, escalation, followup_reminder, ...
    # Phone numbers may be a relative's: encrypted, with a digest to find them.
    to_number: Mapped[str | None] = mapped_column(EncryptedText)
    from_number: Mapped[str | None] = mapped_column(EncryptedText)
    counterpart_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # Outbound texts carry no sensitive data by construction (templates), but
    # they hold acknowledgement links, and inbound texts are whatever people
    # write: both are encrypted at rest (docs/domain.md "Special categories").
    body: Mapped[str] = mapped_column(EncryptedText)
    language: Mapped[str] = mapped_column(String(8), default="sv")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id", ondelete="SET NULL"))
    # The person at the other end: the recipient of an outbound text, the
    # sender of an inbound one (matched by number).
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recipient_relative_id: Mapped[int | None] = mapped_column(ForeignKey("relatives.id", ondelete="SET NULL"))
    status: Mapped[MessageStatus] = mapped_column(
        str_enum(MessageStatus, "message_status"), default=MessageStatus.QUEUED, index=True
    )
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    # Inbound from a number several relatives share (issue 14): "latest_outbound" or "ambiguous".
    attribution: Mapped[str | None] = mapped_column(String(20))
    validity_s: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    status_events: Mapped[list[MessageStatusEvent]] = relationship(
        back_populates="message", order_by="MessageStatusEvent.id", cascade="all, delete-orphan"
    )
    recipient_user: Mapped["User | None"] = relationship(foreign_keys=[recipient_user_id])  # noqa: F821, UP037
    recipient_relative: Mapped["Relative | None"] = relationship(  # noqa: F821, UP037
        foreign_keys=[recipient_relative_id]
    )

    @property
    def is_final(self) -> bool:
        return self.status.rank >= _RANK[MessageStatus.DELIVERED]

    @property
    def counterpart_number(self) -> str | None:
        """The other end: the recipient of an outbound text, the sender of an inbound one."""
        return self.to_number if self.direction == Direction.OUTBOUND else self.from_number


#: Every column of a message but the encrypted numbers and text: what is read back when those are
#: known already (just written) or cannot have changed, instead of decrypting each of them again.
PLAIN_COLUMNS = [getattr(Message, column.key) for column in Message.__table__.columns
                 if not isinstance(column.type, EncryptedText)]


class MessageStatusEvent(Base):
    """Every status a message passed through, as reported (even out of order)."""

    __tablename__ = "message_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "event_message_status"))
    error_code: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="sender")  # sender | callback
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="status_events")


class SmsOptOut(Base):
    """A number that said STOP (by digest: the number itself is not kept here)."""

    __tablename__ = "sms_opt_outs"

    phone_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(default=True)
    keyword: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
