"""Paged lists in the JSON API: `limit` and an opaque `cursor`, with a documented maximum.

Every list endpoint under /api/v1 takes

- `limit`: how many items to return, from 1 to the endpoint's maximum
  (a larger one is refused with a 422 that names the maximum), and
- `cursor`: the `next_cursor` of the previous page, to get the next one;

and answers `next_cursor` (null on the last page). The cursor is opaque to
clients: today it carries the position in the list's fixed order, and it may
carry something else tomorrow without breaking anyone who passes it back.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from flask import request
from flask_babel import gettext as _
from sqlalchemy import Select
from sqlalchemy.orm import Session

from crisis.core.api import ApiError

#: No cursor reaches further than this into a list: deep offsets cost the
#: database a scan, and no person pages through 100,000 rows.
MAX_OFFSET = 100_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int = 0

    def next_cursor(self, has_more: bool) -> str | None:
        if not has_more or self.offset + self.limit > MAX_OFFSET:
            return None
        return encode_cursor({"o": self.offset + self.limit})


def encode_cursor(position: dict) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise _invalid("cursor", _("cursor is not one this API gave out: pass back the next_cursor of the "
                                   "previous page unchanged, or leave it out for the first page."))
    return value


def _invalid(name: str, detail: str) -> ApiError:
    return ApiError(422, "Unprocessable Content", detail, errors=[{"field": name, "message": detail}], field=name)


def page_from_request(*, default: int, maximum: int) -> Page:
    """The page the request asks for; a 422 saying what to fix for a bad `limit` or `cursor`."""
    raw = request.args.get("limit")
    limit = default
    if raw is not None and raw != "":
        try:
            limit = int(raw.strip())
        except ValueError:
            raise _invalid("limit", _("limit must be a whole number from 1 to %(maximum)s, not %(given)s.",
                                      maximum=maximum, given=repr(raw[:40]))) from None
        if limit > maximum:
            raise _invalid("limit", _("limit may be at most %(maximum)s here (you asked for %(limit)s); "
                                      "ask for the next page with the cursor in next_cursor.",
                                      maximum=maximum, limit=limit))
        if limit < 1:
            raise _invalid("limit", _("limit must be a whole number from 1 to %(maximum)s.", maximum=maximum))
    cursor = request.args.get("cursor")
    offset = 0
    if cursor:
        position = decode_cursor(cursor)
        offset = position.get("o", 0)
        if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise _invalid("cursor", _("cursor is not one this API gave out: pass back the next_cursor of the "
                                       "previous page unchanged."))
    return Page(limit=limit, offset=offset)


def page_of_query(session: Session, query: Select, page: Page) -> tuple[list, str | None]:
    """One page of `query` (which must have a total order) and the next page's cursor."""
    rows = list(session.scalars(query.limit(page.limit + 1).offset(page.offset)))
    has_more = len(rows) > page.limit
    return rows[: page.limit], page.next_cursor(has_more)


def page_of_list(items: Sequence, page: Page) -> tuple[list, str | None]:
    """One page of a list already in memory (short by nature: a relative's schedule)."""
    chunk = list(items[page.offset: page.offset + page.limit])
    return chunk, page.next_cursor(page.offset + page.limit < len(items))


def paging_parameters(*, default: int, maximum: int) -> list[dict]:
    """The OpenAPI description of `limit` and `cursor` for an endpoint."""
    return [
        {"name": "limit", "in": "query", "required": False,
         "description": f"Items per page, at most {maximum}; a larger limit is refused with 422.",
         "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}},
        {"name": "cursor", "in": "query", "required": False,
         "description": "The next_cursor of the previous page; leave out for the first page.",
         "schema": {"type": "string", "maxLength": 200}},
    ]


#: The `next_cursor` property of a paged list's response.
NEXT_CURSOR = {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."}
