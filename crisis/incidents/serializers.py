"""The API's JSON in and out: request reading against the published schemas, response shapes.

Reading: a request body is validated with jsonschema against the very schema
the OpenAPI document publishes for it (one definition for the docs and the
check), then date-times are read as aware UTC datetimes. Every refusal is a
422 problem with `errors: [{field, message}]` saying what to send instead;
bad input never reaches the database as a 500.

Writing: relatives appear by label ("Anhörig 2") in every shape except the
full record from `GET /relatives/{id}`, which is access-logged; the name of
the person concerned is stored but never returned. Free-text notes travel only
to staff allowed to see the relative's record (socialtjänstsekretess, OSL
26 kap. 1 §).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from flask import request
from flask_babel import get_locale
from jsonschema import Draft202012Validator
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crisis.core.api import ApiError, json_body
from crisis.core.forms import STOCKHOLM
from crisis.core.openapi import document, openapi_document
from crisis.incidents.models import (
    AffectedPerson,
    AgeBand,
    ConsentRecord,
    ConsentState,
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
from crisis.incidents.services import IncidentError, StaleVersion
from crisis.referrals.models import Referral
from crisis.tasks.models import Task, TaskCategory, TaskStatus

# -- reading requests --------------------------------------------------------------

# Ids are 32-bit on PostgreSQL; a larger number cannot name a row (and must not reach the driver).
ID_MAX = 2**31 - 1
# Dates the engine can add a playbook's offsets to (years) without leaving datetime's range.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

UNPROCESSABLE = "Unprocessable Content"
T = TypeVar("T")


def id_schema(description: str = "") -> dict:
    schema = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    if description:
        schema["description"] = description
    return schema


def datetime_schema(description: str = "", nullable: bool = False) -> dict:
    text = "ISO 8601 date and time with a UTC offset, e.g. 2026-11-24T02:10:00+01:00"
    return {"type": ["string", "null"] if nullable else "string", "format": "date-time",
            "description": f"{description} ({text})." if description else f"{text}."}


def enum_schema(enum_cls, description: str = "", exclude: Iterable = ()) -> dict:
    skip = {getattr(e, "value", e) for e in exclude}
    schema: dict = {"type": "string", "enum": [m.value for m in enum_cls if m.value not in skip]}
    if description:
        schema["description"] = description
    return schema


def text_schema(max_length: int, description: str = "", nullable: bool = False, min_length: int = 0) -> dict:
    schema: dict = {"type": ["string", "null"] if nullable else "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    if description:
        schema["description"] = description
    return schema


def unprocessable(errors: list[tuple[str | None, str]]) -> ApiError:
    """422 with `errors: [{field, message}]` (and `field` when there is one)."""
    detail = " ".join(message for _, message in errors[:5])
    items = [{"field": field, "message": message} for field, message in errors]
    return ApiError(422, UNPROCESSABLE, detail, errors=items, field=errors[0][0] if len(errors) == 1 else None)


def _path(parts: Iterable) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _child(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


TYPE_WORDS = {"integer": "a whole number", "string": "text", "boolean": "true or false",
              "array": "a list", "object": "an object", "null": "null", "number": "a number"}


def _describe(error) -> tuple[str | None, str]:
    """A jsonschema error as (field, what to send instead)."""
    field = _path(error.absolute_path)
    label = field or "The body"
    kind, value = error.validator, error.validator_value
    if kind == "required":  # jsonschema reports each missing name as its own error
        missing = error.message.removesuffix(" is a required property")
        name = _child(field, missing.strip("'\"")) if missing != error.message else field
        return name, f"{name} is required."
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        name = _child(field, extra[0]) if extra else field
        return name, (f"Unknown field {', '.join(map(repr, extra))}"
                      f"{' in ' + field if field else ''}; allowed: {', '.join(allowed)}.")
    if kind == "type":
        types = value if isinstance(value, list) else [value]
        return field or None, f"{label} must be {' or '.join(TYPE_WORDS.get(t, t) for t in types)}."
    if kind == "enum":
        options = ", ".join("null" if v is None else str(v) for v in value)
        return field or None, f"{label} must be one of: {options}."
    if kind == "minimum":
        return field, f"{label} must be at least {value}."
    if kind == "maximum":
        return field, f"{label} must be at most {value}."
    if kind == "minLength":
        return field, f"{label} must have at least {value} character{'s' if value != 1 else ''}."
    if kind == "maxLength":
        return field, f"{label} must have at most {value} characters."
    if kind == "minItems":
        return field, f"{label} must have at least {value} item{'s' if value != 1 else ''}."
    if kind == "maxItems":
        return field, f"{label} must have at most {value} items."
    if kind == "uniqueItems":
        return field, f"{label} must not repeat a value."
    if kind == "minProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return field or None, f"Send at least one of: {allowed}."
    if kind == "pattern":
        return field, f"{label} has the wrong form (expected {value})."
    return field or None, f"{label}: {error.message}"


def _unsafe_strings(value, path: list) -> Iterable[str]:
    """Text the database cannot store: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            yield _path(path) or "The body"
            return
        if "\x00" in value:
            yield _path(path) or "The body"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unsafe_strings(key, path)
            yield from _unsafe_strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unsafe_strings(item, [*path, index])


def _refuse_unsafe_strings(value) -> None:
    fields = list(_unsafe_strings(value, []))
    if fields:
        raise unprocessable([(f, f"{f} contains a NUL character or invalid Unicode; remove it.") for f in fields])


def component(name: str) -> dict:
    return openapi_document()["components"]["schemas"][name]


def _validator(name: str) -> Draft202012Validator:
    # The components sit in the root so `#/components/schemas/...` references resolve
    # exactly as in the published document.
    root = {"$ref": f"#/components/schemas/{name}",
            "components": {"schemas": openapi_document()["components"]["schemas"]}}
    return Draft202012Validator(root)


def read_body(schema_name: str) -> dict:
    """The JSON body, checked against the published schema `schema_name`, with
    date-times read as aware UTC datetimes and whole numbers as ints."""
    try:
        data = json_body()
    except RecursionError:
        raise ApiError(400, "Bad Request", "The JSON body is nested too deeply.") from None
    _refuse_unsafe_strings(data)
    errors = sorted(_validator(schema_name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise unprocessable([_describe(e) for e in errors])
    properties = component(schema_name).get("properties", {})
    problems: list[tuple[str | None, str]] = []
    for name, schema in properties.items():
        if name not in data or data[name] is None:
            continue
        if schema.get("format") == "date-time":
            try:
                data[name] = parse_datetime(data[name], name)
            except ApiError as exc:
                problems.extend((e["field"], e["message"]) for e in exc.extra["errors"])
        elif "integer" in _types(schema) and isinstance(data[name], float):
            data[name] = int(data[name])  # JSON Schema counts 3.0 as an integer
    if problems:
        raise unprocessable(problems)
    return data


def _types(schema: dict) -> list[str]:
    kind = schema.get("type", [])
    return kind if isinstance(kind, list) else [kind]


def parse_datetime(value: str, field: str) -> datetime:
    """An ISO 8601 date-time with offset, as aware UTC; naive times are refused, not guessed."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    example = "e.g. 2026-11-24T02:10:00+01:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise unprocessable([(field, f"{field} must be an ISO 8601 date and time with offset, {example}.")]) from None
    if parsed.tzinfo is None:
        raise unprocessable([(field, f"{field} needs a UTC offset (time zone), {example}.")])
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise unprocessable([(field, f"{field} must lie between the years 1900 and 2199.")])
    return parsed


def parse_period_bound(value: str, field: str, *, end: bool) -> datetime:
    """A date (a whole day in Stockholm; `end` includes that day) or a date-time with offset."""
    if len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise unprocessable([(field, f"{field} must be a date (2026-11-24) or a date-time "
                                         "with offset (2026-11-24T02:10:00+01:00).")]) from None
        if not 1900 <= day.year < 2200:
            raise unprocessable([(field, f"{field} must lie between the years 1900 and 2199.")])
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), STOCKHOLM).astimezone(UTC)
    return parse_datetime(value, field)


def read_query(parameters: list[dict]) -> dict:
    """Query parameters as documented (`in: query`), coerced and checked against their schemas."""
    values: dict = {}
    problems: list[tuple[str | None, str]] = []
    for parameter in parameters:
        if parameter.get("in") != "query":
            continue
        name, schema = parameter["name"], parameter.get("schema", {})
        raw = request.args.getlist(name)
        if not raw:
            if parameter.get("required"):
                problems.append((name, f"The query parameter {name} is required."))
            elif "default" in schema:
                values[name] = schema["default"]
            continue
        if len(raw) > 1:
            problems.append((name, f"Give the query parameter {name} once."))
            continue
        text = raw[0]
        if "\x00" in text:
            problems.append((name, f"{name} contains a NUL character; remove it."))
            continue
        kinds = _types(schema)
        value: object = text
        if "integer" in kinds:
            try:
                value = int(text.strip())
            except ValueError:
                problems.append((name, f"{name} must be a whole number."))
                continue
        elif "boolean" in kinds:
            if text.lower() not in ("true", "false", "1", "0"):
                problems.append((name, f"{name} must be true or false."))
                continue
            value = text.lower() in ("true", "1")
        errors = list(Draft202012Validator(schema).iter_errors(value))
        if errors:
            problems.extend((name, _describe(e)[1].replace("The body", name)) for e in errors[:1])
            continue
        values[name] = value
    if problems:
        raise unprocessable(problems)
    return values


def row_or_404(session: Session, model, row_id: int, what: str):
    row = session.get(model, row_id) if 0 < row_id <= ID_MAX else None
    if row is None:
        raise ApiError(404, "Not Found", f"No {what} with id {row_id}.")
    return row


def expected_version(body: dict) -> tuple[int, bool]:
    """The version the client's change is based on, from If-Match or `version`; True if from If-Match.

    Optimistic locking: a change must say which version it was based on, so a
    stale one is refused instead of silently overwriting someone else's.
    """
    header = request.headers.get("If-Match")
    from_body = body.pop("version", None)
    from_header = None
    if header is not None:
        tag = header.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tag = tag.strip('"')
        if not tag.isdigit() or len(tag) > 9:
            raise ApiError(400, "Bad Request",
                           'If-Match must be the version you read, e.g. If-Match: "3" (not * or a list).')
        from_header = int(tag)
    if from_header is None and from_body is None:
        raise ApiError(428, "Precondition Required",
                       "Say which version you changed: send If-Match: \"<version>\" or version in the body "
                       "(read it with GET first).")
    if from_header is not None and from_body is not None and from_header != from_body:
        raise ApiError(400, "Bad Request", "If-Match and version disagree; send one of them.")
    return (from_header if from_header is not None else from_body), from_header is not None


def stale(current_version: int, from_header: bool) -> ApiError:
    """409 (or 412 for a failed If-Match) with the version there is now; never an overwrite."""
    status, title = (412, "Precondition Failed") if from_header else (409, "Conflict")
    return ApiError(status, title,
                    f"Changed by someone else in the meantime (now version {current_version}); "
                    "read it again and reapply your change with that version.",
                    current_version=current_version)


def perform(session: Session, change: Callable[[], T], *, from_header: bool = False,
            current_version: Callable[[], int] | None = None) -> T:
    """Run a service call and commit; what the service refuses becomes a problem (after a rollback).

    A concurrent writer that got in between our read and our write is caught
    by the row's version column (StaleDataError) and answered like a stale
    version: 409/412 with what there is now.
    """
    try:
        result = change()
        session.commit()
    except StaleVersion as exc:
        session.rollback()
        raise stale(exc.current_version, from_header) from None
    except IncidentError as exc:
        session.rollback()
        raise unprocessable([(exc.field, str(exc))]) from None
    except StaleDataError:
        session.rollback()
        raise stale(current_version() if current_version else 0, from_header) from None
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "Conflict", "Someone else changed the same records at the same moment; "
                                        "read them again and retry.") from None
    return result


# -- writing responses ---------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def lang() -> str:
    return str(get_locale() or "sv")


def text_in(mapping: dict | None, language: str) -> str:
    if not mapping:
        return ""
    return mapping.get(language) or mapping.get("sv") or next(iter(mapping.values()), "")


OPEN_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)


def task_counts(session: Session, incident_ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """Open, overdue and done tasks per incident, in one query."""
    if not incident_ids:
        return {}
    is_open = Task.status.in_(OPEN_STATUSES)
    rows = session.execute(
        select(
            Task.incident_id,
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((is_open & (Task.due_at < now), 1), else_=0)),
            func.sum(case((Task.status == TaskStatus.DONE, 1), else_=0)),
        ).where(Task.incident_id.in_(incident_ids)).group_by(Task.incident_id)
    ).all()
    return {r[0]: {"open": int(r[1] or 0), "overdue": int(r[2] or 0), "done": int(r[3] or 0)} for r in rows}


def incident_json(incident: Incident, counts: dict[str, int] | None = None) -> dict:
    snapshot = incident.playbook_snapshot
    return {
        "id": incident.id,
        "reference": incident.reference,
        "type": incident.type.value,
        "status": incident.status.value,
        "outcome": incident.outcome.value,
        "threat_level": incident.threat_level.value,
        "occurred_at": iso(incident.occurred_at),
        "reported_at": iso(incident.reported_at),
        "activated_at": iso(incident.activated_at),
        "closed_at": iso(incident.closed_at),
        "district": {"id": incident.district.id, "name": incident.district.name},
        "place": incident.place,
        "police_reference": incident.police_reference,
        "coordinator_id": incident.coordinator_id,
        "playbook": {"id": snapshot.playbook_id, "version": snapshot.version,
                     "content_hash": snapshot.content_hash, "title": text_in(snapshot.content.get("title"), lang())},
        "death_at": iso(incident.death_at),
        "funeral_at": iso(incident.funeral_at),
        "judgment_at": iso(incident.judgment_at),
        "tasks": counts or {"open": 0, "overdue": 0, "done": 0},
        "version": incident.version,
        "updated_at": iso(incident.updated_at),
    }


def phase_progress(incident: Incident, tasks: list[Task], now: datetime) -> list[dict]:
    """Per playbook phase (in the playbook's order): how many tasks are open, done, overdue.

    Cancelled tasks (their condition no longer holds) are not counted; ad hoc
    tasks form a last group with id null.
    """
    language = lang()
    groups: list[tuple[str | None, dict]] = [
        (phase["id"], phase.get("title", {})) for phase in incident.playbook_snapshot.content.get("phases", [])
    ]
    known = {phase_id for phase_id, _ in groups}
    if any(t.phase_id is None or t.phase_id not in known for t in tasks if t.status != TaskStatus.CANCELLED):
        groups.append((None, {"sv": "Övriga uppgifter", "en": "Other tasks"}))
    progress = []
    for phase_id, title in groups:
        mine = [t for t in tasks if t.status != TaskStatus.CANCELLED
                and (t.phase_id == phase_id if phase_id is not None else (t.phase_id not in known))]
        open_tasks = [t for t in mine if t.status in OPEN_STATUSES]
        progress.append({
            "id": phase_id,
            "title": title,
            "title_text": text_in(title, language),
            "total": len(mine),
            "open": len(open_tasks),
            "done": sum(t.status == TaskStatus.DONE for t in mine),
            "not_applicable": sum(t.status == TaskStatus.NOT_APPLICABLE for t in mine),
            "overdue": sum(t.due_at is not None and t.due_at < now for t in open_tasks),
        })
    return progress


def person_json(person: AffectedPerson) -> dict:
    # The name is stored (encrypted) for the case file but never leaves through the API.
    return {
        "id": person.id,
        "label": person.label,
        "outcome": person.outcome.value,
        "death_at": iso(person.death_at),
        "gender": person.gender.value,
        "age_band": person.age_band.value,
        "case_worker_id": person.case_worker_id,
    }


def relative_summary_json(relative: Relative) -> dict:
    """A relative by label: what lists, dashboards and other people's screens may show."""
    return {
        "id": relative.id,
        "incident_id": relative.incident_id,
        "label": relative.label,
        "person_id": relative.person_id,
        "relation": relative.relation.value,
        "is_child": relative.is_child,
        "age_band": relative.age_band.value,
        "language": relative.language,
        "interpreter_needed": relative.interpreter_needed,
        "preferred_channel": relative.preferred_channel.value,
        "protected_identity": relative.protected_identity,
        "consent": relative.consent.value,
        "contact_person_id": relative.contact_person_id,
        "first_contact_at": iso(relative.first_contact_at),
        "version": relative.version,
    }


def relative_counts(relatives: list[Relative]) -> dict:
    consent = {state.value: 0 for state in ConsentState}
    for relative in relatives:
        consent[relative.consent.value] += 1
    return {
        "total": len(relatives),
        "children": sum(r.is_child for r in relatives),
        "protected_identity": sum(r.protected_identity for r in relatives),
        "interpreter_needed": sum(r.interpreter_needed for r in relatives),
        "consent": consent,
    }


def consent_json(record: ConsentRecord) -> dict:
    return {
        "id": record.id,
        "relative_id": record.relative_id,
        "state": record.state.value,
        "scope": list(record.scope or []),
        "method": record.method,
        "given_by": record.given_by,
        "decided_at": iso(record.decided_at),
        "recorded_by_id": record.recorded_by_id,
        "note": record.note,
        "created_at": iso(record.created_at),
    }


def referral_json(referral: Referral) -> dict:
    organisation = referral.organisation
    return {
        "id": referral.id,
        "relative_id": referral.relative_id,
        "organisation": {"code": organisation.code, "name": organisation.name, "kind": organisation.kind},
        "status": referral.status,
        "referred_at": iso(referral.referred_at),
        "referred_by_id": referral.referred_by_id,
        "note": referral.note,
    }


def relative_detail_json(session: Session, relative: Relative) -> dict:
    """The full record: only for those `access.can_see_relative_details` allows, and logged."""
    referrals = session.scalars(
        select(Referral).where(Referral.relative_id == relative.id).order_by(Referral.referred_at, Referral.id)
    ).all()
    return {
        **relative_summary_json(relative),
        "name": relative.name,
        "phone": relative.phone,
        "gender": relative.gender.value,
        "notes": relative.notes,
        "consent_records": [consent_json(r) for r in relative.consent_records],
        "referrals": [referral_json(r) for r in referrals],
        "created_at": iso(relative.created_at),
        "updated_at": iso(relative.updated_at),
    }


def incident_detail_json(session: Session, incident: Incident, now: datetime) -> dict:
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id)).all()
    relatives = [r for r in incident.relatives if r.anonymised_at is None]
    counts = {
        "open": sum(t.status in OPEN_STATUSES for t in tasks),
        "overdue": sum(t.status in OPEN_STATUSES and t.due_at is not None and t.due_at < now for t in tasks),
        "done": sum(t.status == TaskStatus.DONE for t in tasks),
    }
    return {
        **incident_json(incident, counts),
        "phases": phase_progress(incident, list(tasks), now),
        "persons": [person_json(p) for p in incident.persons],
        "relatives": [relative_summary_json(r) for r in relatives],
        "relative_counts": relative_counts(relatives),
    }


def task_json(task: Task, now: datetime, *, show_note: bool) -> dict:
    language = lang()
    relative = task.relative
    return {
        "id": task.id,
        "incident_id": task.incident_id,
        "incident_reference": task.incident.reference,
        "relative": None if relative is None else {
            "id": relative.id, "label": relative.label, "consent": relative.consent.value,
            "protected_identity": relative.protected_identity,
        },
        "person_id": task.person_id,
        "key": task.key,
        "phase_id": task.phase_id,
        "step_id": task.step_id,
        "title": task.title,
        "title_text": text_in(task.title, language),
        "description": task.description,
        "category": task.category.value,
        "agency": task.agency,
        "role": task.role,
        "owner_user_id": task.owner_user_id,
        "owner_team_id": task.owner_team_id,
        "due_at": iso(task.due_at),
        "due_anchor": task.due_anchor,
        "due_offset": task.due_offset,
        "overdue": task.status in OPEN_STATUSES and task.due_at is not None and task.due_at < now,
        "status": task.status.value,
        "checklist": [{"text": item.get("text", {}), "done": bool(item.get("done"))} for item in task.checklist],
        "source": task.source,
        "suggested_referrals": task.suggested_referrals,
        "note": task.note if show_note else None,
        "completed_at": iso(task.completed_at),
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "version": task.version,
    }


# -- the response shapes, as published ------------------------------------------------

_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_ID_OR_NULL = {"type": ["integer", "null"]}
_LANG_MAP = {"type": "object", "additionalProperties": {"type": ["string", "null"]},
             "description": "Text by language code, e.g. {\"sv\": \"...\", \"en\": \"...\"}."}
_COUNTS = {"type": "object", "required": ["open", "overdue", "done"],
           "properties": {"open": {"type": "integer"}, "overdue": {"type": "integer"}, "done": {"type": "integer"}}}


def _values(enum_cls) -> dict:
    return {"type": "string", "enum": [m.value for m in enum_cls]}


RESPONSE_SCHEMAS = {
    "IncidentSummary": {
        "type": "object",
        "required": ["id", "reference", "type", "status", "outcome", "threat_level", "occurred_at",
                     "activated_at", "district", "playbook", "tasks", "version"],
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string", "description": "Short random reference, safe in an SMS."},
            "type": _values(IncidentType), "status": _values(IncidentStatus), "outcome": _values(Outcome),
            "threat_level": _values(ThreatLevel),
            "occurred_at": _TIME, "reported_at": _TIME_OR_NULL, "activated_at": _TIME, "closed_at": _TIME_OR_NULL,
            "district": {"type": "object", "required": ["id", "name"],
                         "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
            "place": {"type": "string", "description": "Coarse area, never an address."},
            "police_reference": {"type": ["string", "null"]},
            "coordinator_id": _ID_OR_NULL,
            "playbook": {"type": "object", "required": ["id", "version", "content_hash"], "properties": {
                "id": {"type": "string"}, "version": {"type": "integer"}, "content_hash": {"type": "string"},
                "title": {"type": "string"}}},
            "death_at": _TIME_OR_NULL, "funeral_at": _TIME_OR_NULL, "judgment_at": _TIME_OR_NULL,
            "tasks": _COUNTS,
            "version": {"type": "integer", "description": "Send it back (If-Match or version) to change the incident."},
            "updated_at": _TIME,
        },
    },
    "Incident": {
        "allOf": [{"$ref": "#/components/schemas/IncidentSummary"}],
        "type": "object",
        "required": ["phases", "persons", "relatives", "relative_counts"],
        "properties": {
            "phases": {"type": "array", "items": {"$ref": "#/components/schemas/PhaseProgress"}},
            "persons": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}},
            "relatives": {"type": "array", "items": {"$ref": "#/components/schemas/RelativeSummary"}},
            "relative_counts": {"type": "object", "properties": {
                "total": {"type": "integer"}, "children": {"type": "integer"},
                "protected_identity": {"type": "integer"}, "interpreter_needed": {"type": "integer"},
                "consent": {"type": "object", "additionalProperties": {"type": "integer"}}}},
        },
    },
    "IncidentList": {
        "type": "object", "required": ["items", "total", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/IncidentSummary"}},
                       "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
                       "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."}},
    },
    "PhaseProgress": {
        "type": "object", "required": ["id", "title", "total", "open", "done", "overdue"],
        "properties": {
            "id": {"type": ["string", "null"], "description": "The playbook phase; null for ad hoc tasks."},
            "title": _LANG_MAP, "title_text": {"type": "string"},
            "total": {"type": "integer"}, "open": {"type": "integer"}, "done": {"type": "integer"},
            "not_applicable": {"type": "integer"}, "overdue": {"type": "integer"},
        },
    },
    "Person": {
        "type": "object", "required": ["id", "label", "outcome"],
        "description": "The person concerned (den närstående), by label; the name is never returned.",
        "properties": {
            "id": {"type": "integer"}, "label": {"type": "string"}, "outcome": _values(Outcome),
            "death_at": _TIME_OR_NULL, "gender": _values(Gender), "age_band": _values(AgeBand),
            "case_worker_id": _ID_OR_NULL,
        },
    },
    "RelativeSummary": {
        "type": "object",
        "description": "A relative by label (\"Anhörig 2\"): never a name or phone number.",
        "required": ["id", "incident_id", "label", "relation", "is_child", "consent", "protected_identity",
                     "version"],
        "properties": {
            "id": {"type": "integer"}, "incident_id": {"type": "integer"}, "label": {"type": "string"},
            "person_id": _ID_OR_NULL, "relation": _values(Relation), "is_child": {"type": "boolean"},
            "age_band": _values(AgeBand), "language": {"type": "string"},
            "interpreter_needed": {"type": "boolean"}, "preferred_channel": _values(ContactChannel),
            "protected_identity": {"type": "boolean"}, "consent": _values(ConsentState),
            "contact_person_id": _ID_OR_NULL, "first_contact_at": _TIME_OR_NULL, "version": {"type": "integer"},
        },
    },
    "Relative": {
        "allOf": [{"$ref": "#/components/schemas/RelativeSummary"}],
        "type": "object",
        "description": "The full record of a relative; every read is access-logged.",
        "required": ["name", "phone", "consent_records", "referrals"],
        "properties": {
            "name": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
            "gender": _values(Gender), "notes": {"type": ["string", "null"]},
            "consent_records": {"type": "array", "items": {"$ref": "#/components/schemas/ConsentRecord"}},
            "referrals": {"type": "array", "items": {"$ref": "#/components/schemas/Referral"}},
            "created_at": _TIME, "updated_at": _TIME,
        },
    },
    "RelativeList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/RelativeSummary"}},
                       "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."}},
    },
    "ConsentRecord": {
        "type": "object", "required": ["id", "relative_id", "state", "scope", "decided_at"],
        "properties": {
            "id": {"type": "integer"}, "relative_id": {"type": "integer"},
            "state": {"type": "string", "enum": ["given", "declined", "withdrawn"]},
            "scope": {"type": "array", "items": {"type": "string"}},
            "method": {"type": "string"}, "given_by": {"type": "string"}, "decided_at": _TIME,
            "recorded_by_id": _ID_OR_NULL, "note": {"type": ["string", "null"]}, "created_at": _TIME,
        },
    },
    "Referral": {
        "type": "object", "required": ["id", "relative_id", "organisation", "status", "referred_at"],
        "properties": {
            "id": {"type": "integer"}, "relative_id": {"type": "integer"},
            "organisation": {"type": "object", "properties": {
                "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}}},
            "status": {"type": "string"}, "referred_at": _TIME, "referred_by_id": _ID_OR_NULL,
            "note": {"type": ["string", "null"]},
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "incident_id", "title", "category", "status", "checklist", "version"],
        "properties": {
            "id": {"type": "integer"}, "incident_id": {"type": "integer"}, "incident_reference": {"type": "string"},
            "relative": {"type": ["object", "null"], "description": "The relative by label only.",
                         "properties": {"id": {"type": "integer"}, "label": {"type": "string"},
                                        "consent": _values(ConsentState),
                                        "protected_identity": {"type": "boolean"}}},
            "person_id": _ID_OR_NULL,
            "key": {"type": ["string", "null"], "description": "Planner key; null for ad hoc tasks."},
            "phase_id": {"type": ["string", "null"]}, "step_id": {"type": ["string", "null"]},
            "title": _LANG_MAP, "title_text": {"type": "string"},
            "description": {"anyOf": [_LANG_MAP, {"type": "null"}]},
            "category": _values(TaskCategory), "agency": {"type": ["string", "null"]}, "role": {"type": "string"},
            "owner_user_id": _ID_OR_NULL, "owner_team_id": _ID_OR_NULL,
            "due_at": _TIME_OR_NULL, "due_anchor": {"type": ["string", "null"]},
            "due_offset": {"type": ["string", "null"]}, "overdue": {"type": "boolean"},
            "status": _values(TaskStatus),
            "checklist": {"type": "array", "items": {"type": "object", "required": ["text", "done"],
                                                     "properties": {"text": _LANG_MAP,
                                                                    "done": {"type": "boolean"}}}},
            "source": {"type": "array", "items": {"type": "object"}},
            "suggested_referrals": {"type": "array", "items": {"type": "string"}},
            "note": {"type": ["string", "null"],
                     "description": "Null when the caller may not see the relative's record."},
            "completed_at": _TIME_OR_NULL, "created_at": _TIME, "updated_at": _TIME,
            "version": {"type": "integer", "description": "Send it back (If-Match or version) to change the task."},
        },
    },
    "TaskList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
                       "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."}},
    },
    "TimelineEvent": {
        "type": "object", "required": ["id", "occurred_at", "kind", "type", "summary"],
        "properties": {
            "id": {"type": "integer"}, "incident_id": _ID_OR_NULL, "occurred_at": _TIME,
            "actor_id": _ID_OR_NULL, "actor": {"type": "string"}, "kind": {"type": "string"},
            "type": {"type": "string"}, "subject_type": {"type": ["string", "null"]},
            "subject_id": _ID_OR_NULL, "summary": {"type": "string"}, "data": {"type": "object"},
        },
    },
    "TimelinePage": {
        "type": "object", "required": ["items", "has_more", "next_after"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEvent"}},
            "has_more": {"type": "boolean"},
            "next_after": {"type": ["integer", "null"],
                           "description": "Pass as `after` to continue (or to poll for newer events)."},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."},
        },
    },
    "ValidationProblem": {
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "type": "object",
        "properties": {
            "errors": {"type": "array", "items": {"type": "object", "required": ["message"], "properties": {
                "field": {"type": ["string", "null"]}, "message": {"type": "string"}}}},
            "field": {"type": ["string", "null"]},
        },
    },
    "StaleProblem": {
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "type": "object", "required": ["current_version"],
        "properties": {"current_version": {"type": "integer"}},
    },
}

document(schemas=RESPONSE_SCHEMAS)


def json_response(schema: str, description: str, **extra) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}, **extra}


def problem_response(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}}


INVALID = {"422": problem_response("ValidationProblem", "Invalid input; `errors` names each field to fix")}
STALE = {
    "409": problem_response("StaleProblem", "Changed by someone else since `version`; `current_version` says "
                                            "what there is now"),
    "412": problem_response("StaleProblem", "If-Match names an older version; `current_version` says what "
                                            "there is now"),
    "428": problem_response("Problem", "No version given: send If-Match or version"),
}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "description": "The version the change is based on, e.g. \"3\" (or send `version` in the body).",
            "schema": {"type": "string"}}
LOCATION = {"Location": {"description": "The new resource", "schema": {"type": "string"}}}
ETAG = {"ETag": {"description": "The row version, for If-Match", "schema": {"type": "string"}}}
