"""The API's plumbing: reading requests against the published schemas, and the shared pieces
of the OpenAPI document. Each capability's `serializers.py` holds its own JSON shapes and
registers its own component schemas (`document(schemas=...)`); this module names none of
them but the problems every endpoint may answer.

Reading: a request body is validated with jsonschema against the very schema
the OpenAPI document publishes for it (one definition for the docs and the
check), then date-times are read as aware UTC datetimes. Every refusal is a
422 problem with `errors: [{field, message}]` saying what to send instead, in
the language asked for (Accept-Language, else the user's; Swedish by default);
bad input never reaches the database as a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from flask import request
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jsonschema import Draft202012Validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crisis.core.api import ApiError, json_body
from crisis.core.errors import ServiceError, StaleRow
from crisis.core.forms import STOCKHOLM
from crisis.core.openapi import document, openapi_document

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
    errors = [(field, str(message)) for field, message in errors]
    detail = " ".join(message for _field, message in errors[:5])
    items = [{"field": field, "message": message} for field, message in errors]
    return ApiError(422, UNPROCESSABLE, detail, errors=items, field=errors[0][0] if len(errors) == 1 else None)


def _path(parts: Iterable) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _child(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


TYPE_WORDS = {"integer": _l("a whole number"), "string": _l("text"), "boolean": _l("true or false"),
              "array": _l("a list"), "object": _l("an object"), "null": "null", "number": _l("a number")}


def _describe(error, label: str | None = None) -> tuple[str | None, str]:
    """A jsonschema error as (field, what to send instead); `label` names the value (default: its path)."""
    field = _path(error.absolute_path)
    label = label or field or _("The body")
    kind, value = error.validator, error.validator_value
    if kind == "required":  # jsonschema reports each missing name as its own error
        missing = error.message.removesuffix(" is a required property")
        name = _child(field, missing.strip("'\"")) if missing != error.message else field
        return name, _("%(field)s is required.", field=name)
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        name = _child(field, extra[0]) if extra else field
        names, options = ", ".join(map(repr, extra)), ", ".join(allowed)
        if field:
            return name, _("Unknown field %(names)s in %(field)s; allowed: %(allowed)s.",
                           names=names, field=field, allowed=options)
        return name, _("Unknown field %(names)s; allowed: %(allowed)s.", names=names, allowed=options)
    if kind == "type":
        types = value if isinstance(value, list) else [value]
        or_word = _("or")
        words = f" {or_word} ".join(str(TYPE_WORDS.get(t, t)) for t in types)
        return field or None, _("%(label)s must be %(types)s.", label=label, types=words)
    if kind == "enum":
        options = ", ".join("null" if v is None else str(v) for v in value)
        return field or None, _("%(label)s must be one of: %(options)s.", label=label, options=options)
    if kind == "minimum":
        return field, _("%(label)s must be at least %(value)s.", label=label, value=value)
    if kind == "maximum":
        return field, _("%(label)s must be at most %(value)s.", label=label, value=value)
    if kind == "minLength":
        return field, ngettext("%(label)s must have at least %(num)d character.",
                               "%(label)s must have at least %(num)d characters.", value, label=label)
    if kind == "maxLength":
        return field, _("%(label)s must have at most %(value)s characters.", label=label, value=value)
    if kind == "minItems":
        return field, ngettext("%(label)s must have at least %(num)d item.",
                               "%(label)s must have at least %(num)d items.", value, label=label)
    if kind == "maxItems":
        return field, _("%(label)s must have at most %(value)s items.", label=label, value=value)
    if kind == "uniqueItems":
        return field, _("%(label)s must not repeat a value.", label=label)
    if kind == "minProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return field or None, _("Send at least one of: %(allowed)s.", allowed=allowed)
    if kind == "pattern":
        return field, _("%(label)s has the wrong form (expected %(pattern)s).", label=label, pattern=value)
    return field or None, _("%(label)s: %(message)s", label=label, message=error.message)


def _unsafe_strings(value, path: list) -> Iterable[str]:
    """Text the database cannot store: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            yield _path(path) or _("The body")
            return
        if "\x00" in value:
            yield _path(path) or _("The body")
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
        raise unprocessable([(f, _("%(field)s contains a NUL character or invalid Unicode; remove it.", field=f))
                             for f in fields])


# -- the component registry: each capability registers its own, read back from the document --


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
        raise ApiError(400, "Bad Request", _("The JSON body is nested too deeply.")) from None
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


def _out_of_range(field: str) -> ApiError:
    return unprocessable([(field, _("%(field)s must lie between the years 1900 and 2199.", field=field))])


def parse_datetime(value: str, field: str) -> datetime:
    """An ISO 8601 date-time with offset, as aware UTC; naive times are refused, not guessed."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise unprocessable([(field, _("%(field)s must be an ISO 8601 date and time with offset, "
                                       "e.g. 2026-11-24T02:10:00+01:00.", field=field))]) from None
    if parsed.tzinfo is None:
        raise unprocessable([(field, _("%(field)s needs a UTC offset (time zone), e.g. 2026-11-24T02:10:00+01:00.",
                                       field=field))])
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise _out_of_range(field)
    return parsed


def parse_period_bound(value: str, field: str, *, end: bool) -> datetime:
    """A date (a whole day in Stockholm; `end` includes that day) or a date-time with offset."""
    if len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise unprocessable([(field, _("%(field)s must be a date (2026-11-24) or a date-time "
                                           "with offset (2026-11-24T02:10:00+01:00).", field=field))]) from None
        if not 1900 <= day.year < 2200:
            raise _out_of_range(field)
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
                problems.append((name, _("The query parameter %(name)s is required.", name=name)))
            elif "default" in schema:
                values[name] = schema["default"]
            continue
        if len(raw) > 1:
            problems.append((name, _("Give the query parameter %(name)s once.", name=name)))
            continue
        text = raw[0]
        if "\x00" in text:
            problems.append((name, _("%(name)s contains a NUL character; remove it.", name=name)))
            continue
        kinds = _types(schema)
        value: object = text
        if "integer" in kinds:
            try:
                value = int(text.strip())
            except ValueError:
                problems.append((name, _("%(name)s must be a whole number.", name=name)))
                continue
        elif "boolean" in kinds:
            if text.lower() not in ("true", "false", "1", "0"):
                problems.append((name, _("%(name)s must be true or false.", name=name)))
                continue
            value = text.lower() in ("true", "1")
        errors = list(Draft202012Validator(schema).iter_errors(value))
        if errors:
            problems.extend((name, _describe(e, label=name)[1]) for e in errors[:1])
            continue
        values[name] = value
    if problems:
        raise unprocessable(problems)
    return values


def row_or_404(session: Session, model, row_id: int, what: str, options=()):
    """The row, loaded with the loader `options` given (e.g. only the columns an answer needs), or a 404."""
    row = session.get(model, row_id, options=options) if 0 < row_id <= ID_MAX else None
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
                           _('If-Match must be the version you read, e.g. If-Match: "3" (not * or a list).'))
        from_header = int(tag)
    if from_header is None and from_body is None:
        raise ApiError(428, "Precondition Required",
                       _('Say which version you changed: send If-Match: "<version>" or version in the body '
                         "(read it with GET first)."))
    if from_header is not None and from_body is not None and from_header != from_body:
        raise ApiError(400, "Bad Request", _("If-Match and version disagree; send one of them."))
    return (from_header if from_header is not None else from_body), from_header is not None


def stale(current_version: int, from_header: bool) -> ApiError:
    """409 (or 412 for a failed If-Match) with the version there is now; never an overwrite."""
    status, title = (412, "Precondition Failed") if from_header else (409, "Conflict")
    return ApiError(status, title,
                    _("Changed by someone else in the meantime (now version %(version)s); "
                      "read it again and reapply your change with that version.", version=current_version),
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
    except StaleRow as exc:
        session.rollback()
        raise stale(exc.current_version, from_header) from None
    except ServiceError as exc:
        session.rollback()
        raise unprocessable([(exc.field, str(exc))]) from None
    except StaleDataError:
        session.rollback()
        raise stale(current_version() if current_version else 0, from_header) from None
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "Conflict", _("Someone else changed the same records at the same moment; "
                                          "read them again and retry.")) from None
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


# Schema pieces the capabilities' response shapes share.
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
ID_OR_NULL = {"type": ["integer", "null"]}
LANG_MAP = {"type": "object", "additionalProperties": {"type": ["string", "null"]},
            "description": "Text by language code, e.g. {\"sv\": \"...\", \"en\": \"...\"}."}
NEXT_CURSOR_SCHEMA = {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."}


def values_schema(enum_cls) -> dict:
    """An enum's values, for a response shape (requests use `enum_schema`)."""
    return {"type": "string", "enum": [m.value for m in enum_cls]}


def json_response(schema: str, description: str, **extra) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}, **extra}


def problem_response(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}}


# The problems every endpoint that reads input or changes a versioned row may answer.
document(schemas={
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
})

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
