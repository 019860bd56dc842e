"""Push subscriptions (one per user and device) and the dispatch alerts sent by push."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.core.crypto import EncryptedText
from crisis.core.db import Base, UTCDateTime, str_enum, utcnow


class PushSubscription(Base):
    """A browser's push subscription: where to send (the endpoint) and how to encrypt (its keys).

    The endpoint is a capability URL at the push service and the keys decrypt what is sent:
    all three are encrypted at rest, and never logged. `endpoint_hash` finds a subscription
    again when the same browser subscribes twice. A subscription the push service says is
    gone (404/410) is kept as removed, so the device page can say what happened.
    """

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(EncryptedText)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(EncryptedText)
    auth: Mapped[str] = mapped_column(EncryptedText)
    device_label: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[str | None] = mapped_column(String(40))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_reason: Mapped[str | None] = mapped_column(String(40))  # gone (404/410), unsubscribed

    user: Mapped["User"] = relationship()  # noqa: F821, UP037

    @property
    def active(self) -> bool:
        return self.removed_at is None

    def info(self) -> dict:
        """What pywebpush needs."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class PushAlertStatus(enum.StrEnum):
    PENDING = "pending"  # committed, the push not yet handed to the push service
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"  # at least one device's push service accepted it
    FAILED = "failed"  # no device took it: the SMS was released at once


class PushAlert(Base):
    """One dispatch alert to one person by push, ahead of its SMS (`message_id`, held back).

    The acknowledge token in the push is derived from this row (crisis.push.services.ack_token),
    stored here only as a hash, used once (`ack_used_at`) and valid until `ack_expires_at`.
    """

    __tablename__ = "push_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(40))  # dispatch | dispatch_escalation
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(8), default="sv")
    # What the notification shows (reference, kind, the alert's link: as the SMS, encrypted like it).
    content: Mapped[str | None] = mapped_column(EncryptedText)
    status: Mapped[PushAlertStatus] = mapped_column(
        str_enum(PushAlertStatus, "push_alert_status"), default=PushAlertStatus.PENDING, index=True)
    sms_held_until: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    ack_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    devices: Mapped[int] = mapped_column(Integer, default=0)  # devices the push service accepted
    # The alert was acknowledged while its SMS was still held: the text never went.
    sms_saved: Mapped[bool] = mapped_column(default=False)
    acknowledged_via: Mapped[str | None] = mapped_column(String(10))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
