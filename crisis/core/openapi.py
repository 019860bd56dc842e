"""The OpenAPI 3.1 document at /api/v1/openapi.json.

Each capability's `api.py` describes its own endpoints next to their code
with `document(paths=..., schemas=...)`; this module only merges them. A test
checks that every API route is documented and schemathesis checks that the
implementation keeps to the document.
"""

from __future__ import annotations

from flask import jsonify

from crisis.core.api import api

_PATHS: dict[str, dict] = {}
_SCHEMAS: dict[str, dict] = {
    "Problem": {
        "type": "object",
        "required": ["title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "What to fix, in the language of Accept-Language "
                                                         "(sv or en), else the token user's."},
            "code": {"type": "string", "description": "A stable machine code (e.g. unprocessable, not_found)."},
        },
    },
}


def document(paths: dict | None = None, schemas: dict | None = None) -> None:
    for path, operations in (paths or {}).items():
        _PATHS.setdefault(path, {}).update(operations)
    _SCHEMAS.update(schemas or {})


def problem_responses(*codes: int) -> dict:
    descriptions = {400: "Bad request", 401: "Not authenticated", 403: "Not allowed",
                    404: "Not found", 409: "Conflict", 412: "Precondition failed",
                    415: "Unsupported media type", 422: "Invalid input", 429: "Too many requests"}
    return {
        str(code): {
            "description": descriptions.get(code, "Error"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Krisstöd API",
            "version": "1",
            "description": "Crisis-response coordination for support to relatives. "
                           "Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": dict(sorted(_PATHS.items())),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A token from `crisis tokens create EMAIL`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "crisis_session"},
            },
        },
    }


@api.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())
