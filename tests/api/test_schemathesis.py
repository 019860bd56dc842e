"""Schemathesis against the whole API over WSGI: no input, however odd, gives a 5xx.

Every operation in the OpenAPI document gets generated requests (valid ones
and ones that break the schema on purpose) as a coordinator with a bearer
token, against a seeded response so that ids often name real rows and the
handlers behind the 404 run too. Besides "no 5xx", each answer must be a
status code, content type and body the document promises.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crisis.auth.services import create_token
from crisis.incidents import services
from crisis.referrals.models import SupportOrganisation
from crisis.tasks.models import Task

MAX_EXAMPLES = 20  # per operation: keeps the whole file well under two minutes on SQLite


@pytest.fixture(autouse=True)
def _playbooks_read_once(monkeypatch):
    """Each activation reads and validates the playbook files (~0.3 s); hundreds of generated
    activations would spend minutes on that, and this test is about input handling."""
    from crisis.playbooks import engine

    loaded: dict = {}
    read = engine.available_playbooks

    def cached(directory=None):
        key = str(directory or engine.playbook_dir())
        if key not in loaded:
            loaded[key] = read(directory)
        return loaded[key]

    monkeypatch.setattr(engine, "available_playbooks", cached)


@pytest.fixture
def seeded(app, session, staff, activate):
    """A response with a relative (consent given), one with protected identity, and tasks."""
    coordinator = staff["coordinator"]
    session.add(SupportOrganisation(code="brottsofferjouren", name="Brottsofferjouren", kind="civil_society"))
    incident = activate()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent", phone="+46701112233")
    services.record_consent(session, relative, actor=coordinator, state="given", scope=["contact", "referral"])
    protected = services.add_relative(session, incident, actor=coordinator, relation="sibling",
                                      protected_identity=True)
    # Issue 14: a dispatch with its alert SMS, and a manager's token for the privacy and report operations.
    from crisis.dispatch.services import dispatch_staff
    from crisis.followups.models import FollowUp
    from crisis.messaging.models import Message

    with app.app_context():  # the alert's link is signed with the app's key
        dispatches = dispatch_staff(session, incident=incident, users=[staff["workers"][0]], actor=coordinator)
        token = create_token(session, coordinator, "schemathesis").token
        manager_token = create_token(session, staff["manager"], "schemathesis").token
        session.commit()
        dispatch_ids = [d.id for d in dispatches]
    task_ids = [t.id for t in session.query(Task).filter(Task.incident_id == incident.id)]
    follow_up_ids = [f.id for f in session.query(FollowUp).filter(FollowUp.incident_id == incident.id)]
    message_ids = [m.id for m in session.query(Message)]
    return {"token": token, "manager_token": manager_token,
            "ids": {"incident_id": [incident.id], "relative_id": [relative.id, protected.id],
                    "task_id": task_ids, "dispatch_id": dispatch_ids,
                    "follow_up_id": follow_up_ids or [1], "message_id": message_ids or [1]}}


def _published_document() -> dict:
    """The document as the app serves it, built without an app (collection happens before fixtures)."""
    from crisis.app import API_MODULES, _import_optional
    from crisis.core.openapi import openapi_document

    for name in API_MODULES:
        _import_optional(name)
    return openapi_document()


schema = schemathesis.openapi.from_dict(_published_document())


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _call(case, app, seeded, token: str):
    # Odd generated ids are pointed at seeded rows, so about half the calls reach a real incident.
    for name, value in list((case.path_parameters or {}).items()):
        known = seeded["ids"].get(name)
        if known and isinstance(value, int) and value % 2:
            case.path_parameters[name] = known[value % len(known)]
    # Through WSGI to the app on the test database.
    response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case, app, seeded):
    _call(case, app, seeded, seeded["token"])


# Issue 14: the operations only managers and admins reach (privacy export, including the protected
# identity's refusal, reports, staff), with a manager's token.
@schema.include(tag=["privacy", "reports", "auth", "timeline"]).parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_manager_operation_answers_5xx(case, app, seeded):
    _call(case, app, seeded, seeded["manager_token"])
