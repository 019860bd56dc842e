"""API: incidents, the persons concerned, relatives, consent, referrals, an incident's timeline.

Routes are thin: read the request against the published schema, authorise
(role, then `crisis.incidents.access` for the incident), call a service in
crisis.incidents.services, commit, answer. Who may do what follows
crisis/incidents/access.py; an incident the caller may not see answers 403,
one that does not exist 404.
"""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload, selectinload

from crisis.auth.models import Role, User
from crisis.auth.permissions import login_required, roles_required
from crisis.core.api import ApiError, api
from crisis.core.apischema import (
    ETAG,
    ID_MAX,
    IF_MATCH,
    INVALID,
    LOCATION,
    STALE,
    datetime_schema,
    enum_schema,
    expected_version,
    id_schema,
    json_response,
    lang,
    parse_period_bound,
    perform,
    read_body,
    read_query,
    row_or_404,
    text_schema,
    unprocessable,
)
from crisis.core.db import db, utcnow
from crisis.core.openapi import document, problem_responses
from crisis.core.paging import (
    NEXT_CURSOR,
    Page,
    decode_cursor,
    encode_cursor,
    page_from_request,
    page_of_query,
    paging_parameters,
)
from crisis.eventtext.serializers import events_json
from crisis.incidents import access, services
from crisis.incidents.models import (
    AgeBand,
    ConsentScope,
    ContactChannel,
    Gender,
    Incident,
    IncidentStatus,
    IncidentType,
    Outcome,
    Relation,
    Relative,
    ThreatLevel,
)
from crisis.incidents.serializers import (
    consent_json,
    incident_detail_json,
    incident_json,
    person_json,
    relative_detail_json,
    relative_summary_json,
)
from crisis.organisation.models import District
from crisis.playbooks.engine import PlaybookNotFound, playbooks_for
from crisis.playbooks.models import PlaybookSnapshot
from crisis.referrals.models import SupportOrganisation
from crisis.referrals.serializers import referral_json
from crisis.tasks.queries import task_counts
from crisis.timeline.models import TimelineEvent
from crisis.timeline.services import log_access

EDITORS = (Role.COORDINATOR, Role.ADMIN)
FIELD_WORKERS = (Role.COORDINATOR, Role.OUTREACH, Role.ADMIN)


# -- loading with access checks -------------------------------------------------------


def visible_incident(incident_id: int, options=()) -> Incident:
    """The incident if the caller may see it (403 if not, 404 if there is none), loaded with `options`."""
    incident = row_or_404(db.session, Incident, incident_id, "incident", options)
    if not access.can_view_incident(db.session, current_user, incident):
        raise ApiError(403, "Forbidden", "You are not assigned to this incident; "
                                         "ask its coordinator to assign you.")
    return incident


def editable_incident(incident_id: int) -> Incident:
    incident = visible_incident(incident_id)
    if not access.can_edit_incident(db.session, current_user, incident):
        raise ApiError(403, "Forbidden", "Only coordinators and admins change a response.")
    return incident


def visible_relative(relative_id: int) -> Relative:
    relative = row_or_404(db.session, Relative, relative_id, "relative")
    if not access.can_view_incident(db.session, current_user, relative.incident):
        raise ApiError(403, "Forbidden", "You are not assigned to this incident; "
                                         "ask its coordinator to assign you.")
    if relative.anonymised_at is not None:
        raise ApiError(410, "Gone", f"{relative.label}'s record has been anonymised (gallring).")
    return relative


def workable_relative(relative_id: int) -> Relative:
    """Record consent or a referral: staff who may open the relative's record."""
    relative = visible_relative(relative_id)
    if not access.can_see_relative_details(db.session, current_user, relative):
        raise ApiError(403, "Forbidden", refusal_for(relative))
    return relative


def refusal_for(relative: Relative) -> str:
    if relative.protected_identity:
        return (f"{relative.label} has protected identity (skyddade personuppgifter): only the contact person "
                "and the incident's coordinator may open the record.")
    return (f"Only staff assigned to incident {relative.incident.reference}, the relative's contact person "
            "and coordinators may open this record.")


def with_etag(body: dict, status: int = 200, **headers):
    return body, status, {"ETag": f'"{body["version"]}"', **headers}


def active_user_or_422(user_id: int | None, field: str) -> None:
    if user_id is None:
        return
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        message = f"No active staff member with id {user_id}."
        raise unprocessable([(field, message)])


# -- incidents ---------------------------------------------------------------------------


@api.post("/incidents")
@roles_required(*EDITORS)
def activate_incident():
    data = read_body("IncidentActivation")
    playbook_id = data.pop("playbook_id", None) or suggested_playbook(data["type"])
    try:
        incident = perform(db.session, lambda: services.activate_incident(
            db.session, actor=current_user, playbook_id=playbook_id, **data))
    except PlaybookNotFound:
        db.session.rollback()
        options = ", ".join(p.id for p in playbooks_for(data["type"])) or "none"
        message = f"No playbook {playbook_id!r}; for {data['type']} use one of: {options}."
        raise unprocessable([("playbook_id", message)]) from None
    body = incident_detail_json(db.session, incident, utcnow())
    return with_etag(body, 201, Location=url_for("api.get_incident", incident_id=incident.id))


def suggested_playbook(incident_type: str) -> str:
    """The playbook the type suggests: the city's default (organisation file), else the first that applies."""
    from crisis.organisation.defaults import default_playbook_id

    chosen = default_playbook_id(db.session, incident_type)
    if chosen is None:
        message = f"No playbook applies to {incident_type}; add one under playbooks/ or name playbook_id."
        raise unprocessable([("playbook_id", message)])
    return chosen


INCIDENTS_MAX = 200
LIST_MAX = 500
TIMELINE_MAX = 500

LIST_PARAMETERS = [
    {"name": "status", "in": "query", "schema": enum_schema(IncidentStatus)},
    {"name": "district_id", "in": "query", "schema": id_schema()},
    {"name": "type", "in": "query", "schema": enum_schema(IncidentType)},
    {"name": "from", "in": "query", "description": "Activated at or after: a date (a Stockholm day) or an "
                                                   "ISO 8601 date-time with offset.",
     "schema": {"type": "string", "maxLength": 40, "anyOf": [{"format": "date"}, {"format": "date-time"}]}},
    {"name": "to", "in": "query", "description": "Activated before: a date (that Stockholm day included) or "
                                                 "an ISO 8601 date-time with offset.",
     "schema": {"type": "string", "maxLength": 40, "anyOf": [{"format": "date"}, {"format": "date-time"}]}},
    *paging_parameters(default=50, maximum=INCIDENTS_MAX),
    {"name": "offset", "in": "query", "description": "Skip this many (prefer cursor).", "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000,
                                                 "default": 0}},
]


#: What the list loads: the incident's columns that IncidentSummary shows, its district (in the
#: same statement) and its playbook's id, version, hash and title (not the source text); reading
#: anything else raises instead of costing a query per incident.
LISTED = (
    defer(Incident.anonymised_at, raiseload=True), defer(Incident.withdrawn_at, raiseload=True),
    defer(Incident.withdrawn_by_id, raiseload=True), defer(Incident.withdrawal_reason, raiseload=True),
    defer(Incident.created_at, raiseload=True),
    joinedload(Incident.district, innerjoin=True).load_only(District.id, District.name, raiseload=True),
    selectinload(Incident.playbook_snapshot).load_only(
        PlaybookSnapshot.id, PlaybookSnapshot.playbook_id, PlaybookSnapshot.version,
        PlaybookSnapshot.content_hash, PlaybookSnapshot.content, raiseload=True),
)


@api.get("/incidents")
@login_required
def list_incidents():
    page = page_from_request(default=50, maximum=INCIDENTS_MAX)
    args = read_query(LIST_PARAMETERS)
    if "offset" in args and request.args.get("cursor"):
        raise unprocessable([("cursor", "Give either offset or cursor, not both.")])
    page = Page(limit=page.limit, offset=page.offset or args["offset"])
    query = access.visible_incidents(current_user)
    if "status" in args:
        query = query.where(Incident.status == args["status"])
    if "type" in args:
        query = query.where(Incident.type == args["type"])
    if "district_id" in args:
        query = query.where(Incident.district_id == args["district_id"])
    if "from" in args:
        query = query.where(Incident.activated_at >= parse_period_bound(args["from"], "from", end=False))
    if "to" in args:
        query = query.where(Incident.activated_at < parse_period_bound(args["to"], "to", end=True))
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    incidents = db.session.scalars(
        query.options(*LISTED).order_by(Incident.activated_at.desc(), Incident.id.desc())
        .limit(page.limit).offset(page.offset)
    ).all()
    counts = task_counts(db.session, [i.id for i in incidents], utcnow())
    language = lang()
    return {"items": [incident_json(i, counts.get(i.id), language) for i in incidents], "total": total,
            "limit": page.limit, "offset": page.offset,
            "next_cursor": page.next_cursor(page.offset + page.limit < total)}


@api.get("/incidents/<int:incident_id>")
@login_required
def get_incident(incident_id: int):
    incident = visible_incident(incident_id)
    return with_etag(incident_detail_json(db.session, incident, utcnow()))


@api.patch("/incidents/<int:incident_id>")
@roles_required(*EDITORS)
def update_incident(incident_id: int):
    incident = editable_incident(incident_id)
    facts = read_body("IncidentFacts")
    version, from_header = expected_version(facts)
    if not facts:
        fields = ", ".join(services.FACT_FIELDS)
        raise unprocessable([(None, f"Nothing to change; send at least one of: {fields}.")])
    perform(db.session, lambda: services.update_incident(
        db.session, incident, actor=current_user, expected_version=version, **facts),
        from_header=from_header, current_version=lambda: db.session.get(Incident, incident_id).version)
    return with_etag(incident_detail_json(db.session, incident, utcnow()))


@api.post("/incidents/<int:incident_id>/persons")
@roles_required(*EDITORS)
def add_person(incident_id: int):
    incident = editable_incident(incident_id)
    data = read_body("PersonCreate")
    active_user_or_422(data.get("case_worker_id"), "case_worker_id")
    person = perform(db.session, lambda: services.add_person(db.session, incident, actor=current_user, **data))
    return person_json(person), 201


# -- relatives ---------------------------------------------------------------------------


@api.get("/incidents/<int:incident_id>/relatives")
@login_required
def list_relatives(incident_id: int):
    page = page_from_request(default=100, maximum=LIST_MAX)
    incident = visible_incident(incident_id)
    relatives, next_cursor = page_of_query(
        db.session,
        select(Relative).where(Relative.incident_id == incident.id, Relative.anonymised_at.is_(None))
        .order_by(Relative.id),
        page,
    )
    return {"items": [relative_summary_json(r) for r in relatives], "next_cursor": next_cursor}


@api.post("/incidents/<int:incident_id>/relatives")
@roles_required(*EDITORS)
def add_relative(incident_id: int):
    incident = editable_incident(incident_id)
    data = read_body("RelativeCreate")
    relative = perform(db.session, lambda: services.add_relative(db.session, incident, actor=current_user, **data))
    # Label only: the caller sent the details; reading them back is a logged GET.
    return relative_summary_json(relative), 201, {
        "Location": url_for("api.get_relative", relative_id=relative.id)}


RELATIVE_PARAMETERS = [
    {"name": "reason", "in": "query",
     "description": "Why you open the record. Required for a relative with protected identity "
                    "(logged with the access); optional otherwise.",
     "schema": text_schema(300, min_length=5)},
]


@api.get("/relatives/<int:relative_id>")
@login_required
def get_relative(relative_id: int):
    relative = visible_relative(relative_id)
    if not access.can_see_relative_details(db.session, current_user, relative):
        raise ApiError(403, "Forbidden", refusal_for(relative))
    reason = read_query(RELATIVE_PARAMETERS).get("reason")
    if reason is not None:
        reason = reason.strip() or None
    if relative.protected_identity and reason is None:
        # Skyddade personuppgifter: every opening is logged with a reason (docs/domain.md "Protected identity").
        message = f"{relative.label} has protected identity; say why you open the record with ?reason=..."
        raise unprocessable([("reason", message)])
    # Logguppföljning: who opened which relative's record, when, and whether assigned (HSLF-FS 2016:40 4 kap. 9 §).
    log_access(db.session, user=current_user, relative=relative, action="view", reason=reason,
               assigned=access.is_assigned(db.session, current_user, relative.incident_id))
    db.session.commit()
    return relative_detail_json(db.session, relative), 200, {"Cache-Control": "no-store"}


@api.post("/relatives/<int:relative_id>/consent")
@roles_required(*FIELD_WORKERS)
def record_consent(relative_id: int):
    relative = workable_relative(relative_id)
    data = read_body("ConsentDecision")
    record = perform(db.session, lambda: services.record_consent(db.session, relative, actor=current_user, **data))
    return {"consent": consent_json(record), "relative": relative_summary_json(relative)}, 201


@api.put("/relatives/<int:relative_id>/contact-person")
@roles_required(*EDITORS)
def set_contact_person(relative_id: int):
    relative = visible_relative(relative_id)
    editable_incident(relative.incident_id)
    data = read_body("ContactPersonChoice")
    perform(db.session, lambda: services.set_contact_person(
        db.session, relative, actor=current_user, user_id=data["user_id"]))
    return relative_summary_json(relative)


@api.post("/relatives/<int:relative_id>/referrals")
@roles_required(*FIELD_WORKERS)
def refer_relative(relative_id: int):
    relative = workable_relative(relative_id)
    data = read_body("ReferralCreate")
    referral = perform(db.session, lambda: services.refer(
        db.session, relative, actor=current_user, organisation_code=data["organisation"], note=data.get("note")))
    return referral_json(referral), 201


@api.get("/support-organisations")
@login_required
def list_support_organisations():
    page = page_from_request(default=100, maximum=LIST_MAX)
    organisations, next_cursor = page_of_query(
        db.session,
        select(SupportOrganisation).where(SupportOrganisation.active.is_(True))
        .order_by(SupportOrganisation.name, SupportOrganisation.code),
        page,
    )
    return {"next_cursor": next_cursor, "items": [{"code": o.code, "name": o.name, "kind": o.kind, "for_children": o.for_children,
                       "phone": o.phone, "url": o.url, "description": o.description or {}}
                      for o in organisations]}


# -- timeline ---------------------------------------------------------------------------

TIMELINE_PARAMETERS = [
    {"name": "kind", "in": "query", "description": "Only events of this kind (incident, task, relative, ...).",
     "schema": {"type": "string", "pattern": "^[a-z_]{1,20}$"}},
    {"name": "after", "in": "query", "description": "Only events after this event id (paging and polling).",
     "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
    *paging_parameters(default=100, maximum=TIMELINE_MAX),
]


@api.get("/incidents/<int:incident_id>/timeline")
@login_required
def incident_timeline(incident_id: int):
    page = page_from_request(default=100, maximum=TIMELINE_MAX)
    incident = visible_incident(incident_id)
    args = read_query(TIMELINE_PARAMETERS)
    args["limit"] = page.limit
    cursor = request.args.get("cursor")
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, int) or after < 0:
            raise unprocessable([("cursor", "cursor is not one this API gave out: pass back next_cursor unchanged.")])
        args["after"] = max(after, args.get("after", 0))
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
    if "kind" in args:
        query = query.where(TimelineEvent.kind == args["kind"])
    if "after" in args:
        query = query.where(TimelineEvent.id > args["after"])
    events = db.session.scalars(query.order_by(TimelineEvent.id).limit(args["limit"] + 1)).all()
    has_more = len(events) > args["limit"]
    events = events[: args["limit"]]
    next_after = events[-1].id if events else args.get("after")
    from crisis.core.i18n import api_language

    # `type` and `data` are the facts; `summary` is their sentence in the caller's language.
    return {"items": events_json(events, api_language(), db.session), "has_more": has_more,
            "next_after": next_after,
            "next_cursor": encode_cursor({"after": next_after}) if has_more else None}


# -- the published description ---------------------------------------------------------------


def _path_id(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": id_schema(f"The {what}'s id.")}


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


INCIDENT_ID = _path_id("incident_id", "incident")
RELATIVE_ID = _path_id("relative_id", "relative")
NULLABLE_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": ID_MAX}
TAGS = ["incidents"]

document(
    paths={
        "/incidents": {
            "post": {
                "summary": "Activate a response", "operationId": "activateIncident", "tags": TAGS,
                "description": "Registers the incident, pins its playbook (the first that applies to the type "
                               "unless playbook_id is given) and lays out every task. Coordinators and admins.",
                "requestBody": _body("IncidentActivation"),
                "responses": {"201": json_response("Incident", "The new incident", headers={**LOCATION, **ETAG}),
                              **problem_responses(400, 401, 403, 415), **INVALID},
            },
            "get": {
                "summary": "Incidents the caller may see", "operationId": "listIncidents", "tags": TAGS,
                "description": "Newest activation first. Outreach staff see the incidents they are assigned to.",
                "parameters": LIST_PARAMETERS,
                "responses": {"200": json_response("IncidentList", "A page of incidents"),
                              **problem_responses(401), **INVALID},
            },
        },
        "/incidents/{incident_id}": {
            "get": {
                "summary": "An incident with phase progress, persons and relatives (by label)",
                "operationId": "getIncident", "tags": TAGS, "parameters": [INCIDENT_ID],
                "responses": {"200": json_response("Incident", "The incident", headers=ETAG),
                              **problem_responses(401, 403, 404)},
            },
            "patch": {
                "summary": "Change facts learned later (death, funeral, judgment, threat level, status ...)",
                "operationId": "updateIncident", "tags": TAGS, "parameters": [INCIDENT_ID, IF_MATCH],
                "description": "Deadlines anchored to the facts follow. Say which version you changed "
                               "(If-Match or version); a stale change is refused with the current version.",
                "requestBody": _body("IncidentFacts"),
                "responses": {"200": json_response("Incident", "The incident", headers=ETAG),
                              **problem_responses(400, 401, 403, 404, 415), **INVALID, **STALE},
            },
        },
        "/incidents/{incident_id}/persons": {
            "post": {
                "summary": "Add a person concerned (injured, killed or threatened)", "operationId": "addPerson",
                "tags": TAGS, "parameters": [INCIDENT_ID], "requestBody": _body("PersonCreate"),
                "responses": {"201": json_response("Person", "The person, by label"),
                              **problem_responses(400, 401, 403, 404, 415), **INVALID},
            },
        },
        "/incidents/{incident_id}/relatives": {
            "get": {
                "summary": "The incident's relatives, by label", "operationId": "listRelatives", "tags": TAGS,
                "parameters": [INCIDENT_ID, *paging_parameters(default=100, maximum=LIST_MAX)],
                "responses": {"200": json_response("RelativeList", "Relatives (label only)"),
                              **problem_responses(401, 403, 404), **INVALID},
            },
            "post": {
                "summary": "Add a relative (anhörig)", "operationId": "addRelative", "tags": TAGS,
                "parameters": [INCIDENT_ID], "requestBody": _body("RelativeCreate"),
                "description": "Answers with the relative by label; read the record with GET /relatives/{id} "
                               "(access-logged). The contact person must not be the case worker of the "
                               "person concerned.",
                "responses": {"201": json_response("RelativeSummary", "The new relative", headers=LOCATION),
                              **problem_responses(400, 401, 403, 404, 415), **INVALID},
            },
        },
        "/relatives/{relative_id}": {
            "get": {
                "summary": "A relative's full record (access-logged)", "operationId": "getRelative",
                "tags": TAGS, "parameters": [RELATIVE_ID, *RELATIVE_PARAMETERS],
                "description": "For staff assigned to the incident, the contact person, coordinators and admins; "
                               "protected identity only for the contact person and the incident's coordinator, "
                               "with a reason. Every read is written to the access log.",
                "responses": {"200": json_response("Relative", "The record"),
                              **problem_responses(401, 403, 404, 410), **INVALID},
            },
        },
        "/relatives/{relative_id}/consent": {
            "post": {
                "summary": "Record consent (samtycke): given, declined or withdrawn",
                "operationId": "recordConsent", "tags": TAGS, "parameters": [RELATIVE_ID],
                "requestBody": _body("ConsentDecision"),
                "responses": {"201": json_response("ConsentResult", "The decision and the relative"),
                              **problem_responses(400, 401, 403, 404, 410, 415), **INVALID},
            },
        },
        "/relatives/{relative_id}/contact-person": {
            "put": {
                "summary": "Set or remove the relative's contact person", "operationId": "setContactPerson",
                "tags": TAGS, "parameters": [RELATIVE_ID], "requestBody": _body("ContactPersonChoice"),
                "responses": {"200": json_response("RelativeSummary", "The relative"),
                              **problem_responses(400, 401, 403, 404, 410, 415), **INVALID},
            },
        },
        "/relatives/{relative_id}/referrals": {
            "post": {
                "summary": "Refer the relative to a support organisation (lotsa vidare)",
                "operationId": "referRelative", "tags": TAGS, "parameters": [RELATIVE_ID],
                "description": "Needs recorded consent with scope `referral`.",
                "requestBody": _body("ReferralCreate"),
                "responses": {"201": json_response("Referral", "The referral"),
                              **problem_responses(400, 401, 403, 404, 410, 415), **INVALID},
            },
        },
        "/support-organisations": {
            "get": {
                "summary": "Where relatives can be referred", "operationId": "listSupportOrganisations",
                "tags": TAGS, "parameters": paging_parameters(default=100, maximum=LIST_MAX),
                "responses": {"200": json_response("SupportOrganisationList", "Active organisations"),
                              **problem_responses(401), **INVALID},
            },
        },
        "/incidents/{incident_id}/timeline": {
            "get": {
                "summary": "The incident's timeline, oldest first", "operationId": "getIncidentTimeline",
                "tags": ["timeline"], "parameters": [INCIDENT_ID, *TIMELINE_PARAMETERS],
                "responses": {"200": json_response("TimelinePage", "Events"),
                              **problem_responses(401, 403, 404), **INVALID},
            },
        },
    },
    schemas={
        "IncidentActivation": {
            "type": "object", "additionalProperties": False,
            "required": ["type", "occurred_at", "district_id"],
            "properties": {
                "type": enum_schema(IncidentType),
                "occurred_at": datetime_schema("When it happened; not in the future"),
                "district_id": id_schema("The district (stadsdelsförvaltning)."),
                "playbook_id": {"type": "string", "maxLength": 100,
                                "description": "Default: the first playbook that applies to the type."},
                "outcome": enum_schema(Outcome, "The gravest outcome so far."),
                "threat_level": enum_schema(ThreatLevel, "Hotbild."),
                "police_reference": text_schema(64, nullable=True),
                "place": text_schema(200, "A coarse area, never an address."),
                "reported_at": datetime_schema("When social services learned of it", nullable=True),
                "persons": {"type": "integer", "minimum": 0, "maximum": 20, "default": 1,
                            "description": "How many persons were hit (labelled Person 1, 2, ...)."},
            },
        },
        "IncidentFacts": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "death_at": datetime_schema("Date of death", nullable=True),
                "funeral_at": datetime_schema("The funeral", nullable=True),
                "judgment_at": datetime_schema("Judgment or end of proceedings", nullable=True),
                "threat_level": enum_schema(ThreatLevel),
                "status": enum_schema(IncidentStatus),
                "outcome": enum_schema(Outcome),
                "police_reference": text_schema(64, nullable=True),
                "place": text_schema(200, "A coarse area, never an address."),
                "version": {"type": "integer", "minimum": 1, "maximum": ID_MAX,
                            "description": "The version you read (or send If-Match)."},
            },
        },
        "PersonCreate": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "outcome": enum_schema(Outcome),
                "death_at": datetime_schema(nullable=True),
                "gender": enum_schema(Gender),
                "age_band": enum_schema(AgeBand),
                "case_worker_id": {**NULLABLE_ID, "description": "Their case worker, if a client of social "
                                                                 "services: never a relative's contact person."},
                "name": text_schema(200, "Stored encrypted; never returned.", nullable=True),
            },
        },
        "RelativeCreate": {
            "type": "object", "additionalProperties": False, "required": ["relation"],
            "properties": {
                "relation": enum_schema(Relation),
                "is_child": {"type": "boolean", "description": "Under 18: consent is given by the guardian."},
                "age_band": enum_schema(AgeBand),
                "gender": enum_schema(Gender),
                "language": {"type": "string", "maxLength": 8, "description": "Language code: sv, en, ar, so ..."},
                "interpreter_needed": {"type": "boolean"},
                "phone": text_schema(40, "E.164 or a Swedish number.", nullable=True),
                "name": text_schema(200, nullable=True),
                "protected_identity": {"type": "boolean", "description": "Skyddade personuppgifter: never an SMS, "
                                                                         "masked in lists."},
                "preferred_channel": enum_schema(ContactChannel),
                "person_id": {**NULLABLE_ID, "description": "The person concerned this is a relative of."},
                "contact_person_id": {**NULLABLE_ID, "description": "Never the person concerned's case worker."},
                "notes": text_schema(5000, nullable=True),
            },
        },
        "ConsentDecision": {
            "type": "object", "additionalProperties": False, "required": ["state"],
            "properties": {
                "state": {"type": "string", "enum": ["given", "declined", "withdrawn"]},
                "scope": {"type": "array", "maxItems": 5, "uniqueItems": True, "items": enum_schema(ConsentScope),
                          "description": "What the consent covers; given consent must include contact. "
                                         "Default [contact]."},
                "decided_at": datetime_schema("When the relative decided; default now", nullable=True),
                "method": {"type": "string", "enum": ["verbal", "written"]},
                "given_by": {"type": "string", "enum": ["relative", "guardian"],
                             "description": "For a child, the guardian (vårdnadshavare)."},
                "note": text_schema(2000, nullable=True),
            },
        },
        "ConsentResult": {
            "type": "object", "required": ["consent", "relative"],
            "properties": {"consent": {"$ref": "#/components/schemas/ConsentRecord"},
                           "relative": {"$ref": "#/components/schemas/RelativeSummary"}},
        },
        "ContactPersonChoice": {
            "type": "object", "additionalProperties": False, "required": ["user_id"],
            "properties": {"user_id": {**NULLABLE_ID, "description": "A staff member, or null to remove."}},
        },
        "ReferralCreate": {
            "type": "object", "additionalProperties": False, "required": ["organisation"],
            "properties": {
                "organisation": {"type": "string", "minLength": 1, "maxLength": 60,
                                 "description": "The organisation's code (GET /support-organisations)."},
                "note": text_schema(2000, nullable=True),
            },
        },
        "SupportOrganisationList": {
            "type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": {"type": "object", "required": ["code", "name"],
                                                              "properties": {
                "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
                "for_children": {"type": "boolean"}, "phone": {"type": ["string", "null"]},
                "url": {"type": ["string", "null"]}, "description": {"type": "object"}}}},
                "next_cursor": NEXT_CURSOR},
        },
    },
)
