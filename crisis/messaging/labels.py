"""Words for SMS statuses and purposes on pages (translated; the rows keep the codes)."""

from flask_babel import lazy_gettext as _l

from crisis.core.labels import register_labels
from crisis.messaging.models import MessageStatus

STATUS_LABELS = {
    MessageStatus.QUEUED: _l("queued"),
    MessageStatus.SENDING: _l("sending"),
    MessageStatus.SENT: _l("sent"),
    MessageStatus.DELIVERED: _l("delivered"),
    MessageStatus.UNDELIVERED: _l("undelivered"),
    MessageStatus.FAILED: _l("failed"),
    MessageStatus.RECEIVED: _l("received"),
    MessageStatus.EXPIRED: _l("expired"),
}

PURPOSE_LABELS = {
    "dispatch": _l("Alert"),
    "dispatch_escalation": _l("Escalated alert"),
    "reply": _l("Answer"),
    "inbound": _l("Incoming"),
    "followup_reminder": _l("Follow-up reminder"),
    "task_overdue": _l("Overdue task"),
    "overdue_escalation": _l("Overdue notice"),
    "morning_summary": _l("Morning summary"),
}


def status_label(status) -> str:
    return str(STATUS_LABELS.get(status, getattr(status, "value", status)))


def purpose_label(purpose: str) -> str:
    return str(PURPOSE_LABELS.get(purpose, purpose))


register_labels("message_status", STATUS_LABELS)  # for label(group, code) everywhere (crisis.core.labels)
register_labels("message_purpose", PURPOSE_LABELS)
