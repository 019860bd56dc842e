"""Whose conversation an inbound SMS belongs to, when its number is shared (issue 14, finding 12).

Two relatives on different incidents may share a number (a family phone).
The text is filed under the relative whose conversation it answers, the one
that got the latest outbound text to that number; with no such text it is
filed under nobody and marked "ambiguous" for a coordinator to sort out.
Never silently under one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.messaging.models import Direction, Message

LATEST_OUTBOUND = "latest_outbound"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Attribution:
    relative: object | None
    how: str | None  # None (one match), "latest_outbound" or "ambiguous"
    candidates: tuple[int, ...] = ()


def attribute(session: Session, digests: list[str], relatives: list) -> Attribution:
    if len(relatives) <= 1:
        return Attribution(relatives[0] if relatives else None, None)
    by_id = {r.id: r for r in relatives}
    latest = session.scalar(
        select(Message.recipient_relative_id)
        .where(Message.direction == Direction.OUTBOUND, Message.counterpart_digest.in_(digests),
               Message.recipient_relative_id.in_(list(by_id)))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)
    )
    if latest is not None:
        return Attribution(by_id[latest], LATEST_OUTBOUND, tuple(by_id))
    return Attribution(None, AMBIGUOUS, tuple(by_id))
