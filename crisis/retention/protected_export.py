"""The data-subject export of a relative with protected identity takes two people (issue 14, finding 8).

1. A manager or admin asks, with a substantive reason: a case reference
   (e.g. "dnr 2026/1234") or at least 20 characters. The incident's
   coordinator is notified (on the timeline, which reaches their dashboard,
   and by an SMS without names if they have a number).
2. A second manager or admin, not the one who asked, approves.
3. The one who asked downloads the export, once.

Every step is written to the access log with the reason. Relatives without
protected identity keep the one-step export.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.orm import Session

from crisis.core.db import utcnow
from crisis.incidents.access import is_assigned
from crisis.retention.models import ExportRequest
from crisis.timeline.services import log_access, record_event

log = logging.getLogger(__name__)

MIN_REASON = 20
# "dnr 2026/1234", "SN-2026-0042", "ärende 1.2.3-456/2026": digits joined by / or - or .
CASE_REFERENCE = re.compile(r"\d+\s*[/.-]\s*\d+")

PENDING, APPROVED, EXPORTED = "pending", "approved", "exported"


class ExportRefused(ValueError):
    """A step of the two-person export that cannot be taken; the message says why."""


def substantive(reason: str | None) -> bool:
    reason = " ".join((reason or "").split())
    return len(reason) >= MIN_REASON or bool(CASE_REFERENCE.search(reason))


def request_export(session: Session, relative, *, actor, reason: str) -> ExportRequest:
    reason = " ".join((reason or "").split())[:300]
    if not substantive(reason):
        raise ExportRefused("Ange ett ärendenummer (t.ex. dnr 2026/1234) eller en motivering på minst 20 tecken. "
                            "/ Give a case reference (e.g. dnr 2026/1234) or a reason of at least 20 characters.")
    request = ExportRequest(relative_id=relative.id, requested_by_id=actor.id, reason=reason, status=PENDING,
                            requested_at=utcnow())
    session.add(request)
    session.flush()
    log_access(session, user=actor, relative=relative, action="export_requested", reason=reason,
               assigned=is_assigned(session, actor, relative.incident_id))
    record_event(session, kind="relative", type="relative.export_requested", actor=actor,
                 incident_id=relative.incident_id, subject=relative,
                 summary=f"Export of protected record {relative.id} requested; a second person must approve",
                 data={"relative_id": relative.id, "request_id": request.id})
    _notify_coordinator(session, relative, request)
    return request


def _notify_coordinator(session: Session, relative, request: ExportRequest) -> None:
    """An SMS to the incident's coordinator: a reference, never a name."""
    from crisis.messaging.services import SmsRefused, queue_sms

    coordinator = relative.incident.coordinator
    if coordinator is None or not coordinator.phone:
        return
    body = (f"Krisstöd: begäran om registerutdrag för en person med skyddad identitet i ärende "
            f"{relative.incident.reference} (begäran {request.id}).")
    try:
        queue_sms(session, to=coordinator.phone, body=body, purpose="export_notice",
                  incident_id=relative.incident_id, recipient_user_id=coordinator.id,
                  idempotency_key=f"export-request-{request.id}")
    except SmsRefused as refusal:
        log.warning("export request %s: coordinator not notified by SMS (%s)", request.id, refusal.reason)


def approve_export(session: Session, request: ExportRequest, *, actor) -> None:
    if request.status != PENDING:
        raise ExportRefused("Begäran är redan behandlad. / The request has already been handled.")
    if request.requested_by_id == actor.id:
        raise ExportRefused("En annan person än den som begärde utdraget måste godkänna det. "
                            "/ Someone other than the requester must approve.")
    request.status = APPROVED
    request.approved_by_id = actor.id
    request.approved_at = utcnow()
    relative = request.relative
    log_access(session, user=actor, relative=relative, action="export_approved", reason=request.reason,
               assigned=is_assigned(session, actor, relative.incident_id))
    record_event(session, kind="relative", type="relative.export_approved", actor=actor,
                 incident_id=relative.incident_id, subject=relative,
                 summary=f"Export of protected record {relative.id} approved",
                 data={"relative_id": relative.id, "request_id": request.id})


def export_approved(session: Session, request: ExportRequest, *, actor) -> dict:
    from crisis.retention.services import data_subject_export

    if request.requested_by_id != actor.id:
        raise ExportRefused("Bara den som begärde utdraget kan hämta det. / Only the requester downloads it.")
    if request.status != APPROVED:
        raise ExportRefused("Utdraget är inte godkänt av en andra person, eller redan hämtat. "
                            "/ Not approved by a second person, or already downloaded.")
    request.status = EXPORTED
    request.exported_at = utcnow()
    return data_subject_export(session, request.relative, actor=actor, reason=request.reason,
                               approved_request=request)
