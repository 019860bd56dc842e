"""The sender's database work is constant in statements, whatever the batch size.

A claim is one UPDATE ... RETURNING (on SQLite the due ids are selected first)
and one INSERT of the "sending" history; recording a batch of provider answers
is one read of the rows, one UPDATE per set of changed columns and one INSERT
of their history.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.core.db import db, utcnow
from crisis.messaging.gateway import OutboxGateway, SendResult, TransientSendError
from crisis.messaging.models import Message, MessageStatus
from crisis.messaging.sender import (
    Pacer,
    SenderSettings,
    SweepReport,
    _record_outcomes,
    claim_due_messages,
)
from crisis.messaging.services import queue_sms_many
from tests.statements import counting_statements


def _queue(session, n: int, offset: int) -> None:
    queue_sms_many(session, [
        dict(to=f"+46701{offset + k:06d}", body="Larm K-1: https://crisis.example.se/d/x", purpose="dispatch",
             validity=timedelta(minutes=10), idempotency_key=f"statements:{offset + k}")
        for k in range(n)
    ])
    session.commit()


def _claim(session) -> tuple[list[Message], int]:
    with counting_statements(db.engine) as statements:
        claimed = claim_due_messages(session, now=utcnow(), limit=500)
    return claimed, statements.count


def _record(session, claimed: list[Message]):
    """Every third text is refused for now (retried later), the others accepted."""
    outcomes = []
    for k, message in enumerate(claimed):
        if k % 3 == 2:
            outcomes.append((message, message.claim_token, None, TransientSendError("busy", "20003", 503)))
        else:
            outcomes.append((message, message.claim_token, SendResult(f"SM{message.id:032d}", "sent"), None))
    report = SweepReport()
    with counting_statements(db.engine) as statements:
        _record_outcomes(session, OutboxGateway(), SenderSettings(), Pacer(0), outcomes, report, utcnow())
    return report, statements


@pytest.mark.usefixtures("app_ctx")
def test_claiming_and_recording_cost_the_same_for_6_and_60_texts(session):
    _queue(session, 6, 0)
    few, few_claim = _claim(session)
    _, few_record = _record(session, few)

    _queue(session, 60, 100)
    many, many_claim = _claim(session)
    report, many_record = _record(session, many)

    assert (len(few), len(many)) == (6, 60)
    assert few_claim == many_claim <= 3
    # The rows read again, an UPDATE for the accepted and one for those to retry, the history INSERT.
    assert few_record.count == many_record.count == 4, many_record.describe()
    # Read again without the encrypted number and text: they never change, and each costs a decryption.
    reread = many_record[0].lower()
    assert reread.startswith("select") and "messages.status" in reread and "messages.claim_token" in reread
    assert not any(f"messages.{name}" in reread for name in ("body", "to_number", "from_number"))
    assert (report.accepted, report.retrying) == (40, 20)
    session.expire_all()
    rows = session.scalars(select(Message).where(Message.id.in_([m.id for m in many]))).all()
    by_status = {status: [m for m in rows if m.status == status] for status in MessageStatus}
    assert len(by_status[MessageStatus.SENT]) == 40 and len(by_status[MessageStatus.QUEUED]) == 20
    sent = by_status[MessageStatus.SENT][0]
    assert sent.provider_id and sent.claim_token is None
    assert [(e.status.value, e.source) for e in sent.status_events] == [
        ("queued", "outbox"), ("sending", "sender"), ("sent", "outbox")]
    retried = by_status[MessageStatus.QUEUED][0]
    assert retried.provider_id is None and retried.claim_token is None and retried.next_attempt_at > utcnow()
    assert [(e.status.value, e.source) for e in retried.status_events] == [
        ("queued", "outbox"), ("sending", "sender"), ("queued", "sender")]
