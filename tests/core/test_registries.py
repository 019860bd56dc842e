"""What the capabilities register in core at start (issue 17): the words for their codes
(crisis.core.labels) and their names and typed text kept free of bidirectional controls
(crisis.core.textsafety). Core imports none of them; these lists keep the wiring visible."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import event

from crisis.core import labels, textsafety

# group -> the capability module that registers it (the rest are core's own)
REGISTERED = {
    "incident_type": "crisis.incidents.labels", "outcome": "crisis.incidents.labels",
    "threat_level": "crisis.incidents.labels", "incident_status": "crisis.incidents.labels",
    "consent_state": "crisis.incidents.labels", "consent_scope": "crisis.incidents.labels",
    "relation": "crisis.incidents.labels", "gender": "crisis.incidents.labels",
    "age_band": "crisis.incidents.labels", "channel": "crisis.incidents.labels",
    "task_status": "crisis.incidents.labels", "task_category": "crisis.incidents.labels",
    "agency": "crisis.incidents.labels", "language": "crisis.incidents.labels",
    "message_status": "crisis.messaging.labels", "message_purpose": "crisis.messaging.labels",
}


def test_every_capability_group_is_registered_at_start(app):
    from crisis.app import LABEL_MODULES

    assert set(REGISTERED.values()) == set(LABEL_MODULES)
    assert set(REGISTERED) <= set(labels.GROUPS)
    with app.test_request_context(), force_locale("en"):
        assert labels.label("incident_type", "shooting") == "Shooting"
        assert labels.label("task_status", "in_progress") == "In progress"
        assert labels.labels("consent_scope", ["contact", "sms"]) == "Contact from social services, Contact by SMS"
        assert labels.label("message_purpose", "dispatch") == "Alert"
    with app.test_request_context(), force_locale("sv"):
        assert labels.label("task_status", "in_progress") == "Pågår"


def test_enum_keys_are_registered_by_their_codes(app):
    from crisis.messaging.models import MessageStatus

    with app.test_request_context(), force_locale("en"):
        assert labels.label("message_status", MessageStatus.DELIVERED) == "delivered"
        assert labels.label("message_status", "delivered") == "delivered"
        assert labels.label("message_status", "some_new_status") == "Some new status"  # humanised, never raw


def test_the_columns_kept_free_of_bidirectional_controls(app):
    from crisis.auth.models import User
    from crisis.incidents.models import AffectedPerson, ConsentRecord, Incident, Relative
    from crisis.tasks.models import Task

    plain = [User.name, Relative.name, Relative.label, Relative.notes, AffectedPerson.name, AffectedPerson.label,
             Incident.place, Incident.police_reference, ConsentRecord.note, Task.note]
    by_language = [Task.title, Task.description]
    assert all(event.contains(attribute, "set", textsafety._on_set) for attribute in plain)
    assert all(event.contains(attribute, "set", textsafety._on_set_map) for attribute in by_language)
    task = Task(title={"sv": "Ring\u202e", "en": "Call\u2066"}, note="ok\u200f")
    assert task.title == {"sv": "Ring", "en": "Call"} and task.note == "ok"
