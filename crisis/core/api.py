"""The JSON API blueprint and its errors as RFC 9457 problem details.

Capabilities add their endpoints to `api` in their own `api.py`; every error
under /api/ is `application/problem+json` with a detail that says what to fix,
and a stable machine `code` (an ApiError may give its own as `code=`).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

api = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


#: A stable machine code per status, for clients to branch on (the `detail` is for people and is
#: in the language asked for: Accept-Language, else the token user's language).
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         406: "not_acceptable", 409: "conflict", 412: "precondition_failed", 413: "too_large",
         415: "unsupported_media_type", 422: "unprocessable", 428: "precondition_required",
         429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


def problem(status: int, title: str, detail: str, **extra):
    body = {"type": "about:blank", "title": title, "status": status, "detail": str(detail),
            "code": CODES.get(status, f"http_{status}")}
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def register_api_errors(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return problem(exc.status, exc.title, exc.detail, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not is_api_request():
            return exc
        detail = exc.description or exc.name
        return problem(exc.code or 500, exc.name, detail)


def json_body() -> dict:
    """The request's JSON object, or a 400/415 that says what was wrong."""
    if not request.is_json:
        raise ApiError(415, "Unsupported Media Type", "Send a JSON body with Content-Type: application/json.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Bad Request", "The body must be a JSON object.")
    return data
