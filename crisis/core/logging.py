"""Structured logging that never prints phone numbers, e-mail addresses or names.

Names cannot be recognised by a pattern, so the rule is in the code: log ids
and references, never a name. Phone numbers and e-mail addresses are
recognisable and are masked here as a second line of defence (docs/domain.md "Special categories":
special categories never in an ordinary log line).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# A run of 9+ digits, spaces and dashes is a phone number ("+46701740605", "070-174 06 06"), unless it
# starts with a date ("2026-12-01 15:04"); clock times ("15:04:42") have colons and never match.
PHONE = re.compile(
    r"(?<![\w\-])(?!(?:19|20)\d\d-[01]\d-[0-3]\d(?![\d\-]))(?:\+|00)?\d[\d \-]{7,}\d(?![\w])"
)
#: The scheduler job running in this thread ("followups.reminders"); its log lines carry it as `job`.
current_job: ContextVar[str | None] = ContextVar("current_job", default=None)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Issue 14: a number as it appears in a URL: %2B46701740690, 070%20174%2006%2099, 070+174+06+99.
# Plain digit runs are PHONE's (which leaves dates and clock times alone); this one needs an
# encoded plus, or numbers joined by encoded spaces, dashes or pluses.
ENCODED_PHONE = re.compile(r"%2[Bb]\d(?:\d|%20|%2[Dd]|\+|-){6,}\d|\d{2,}(?:(?:%20|%2[Dd]|\+)\d+){2,}", re.ASCII)
ENCODED_EMAIL = re.compile(r"[\w.+%-]+%40[\w-]+\.[\w.-]+")
# Query-string values (a name typed into a search, a number): only these keys keep theirs.
QUERY_VALUE = re.compile(r"([?&;][\w.\-\[\]%]+=)([^&;\s\"']*)")
SAFE_QUERY_KEYS = frozenset({"page", "kind", "kinds", "lang", "status", "since", "after", "format", "view",
                             "EIO", "transport", "t", "sid"})


def _query_value(match: re.Match) -> str:
    key = match.group(1)[1:-1]
    value = match.group(2)
    if key in SAFE_QUERY_KEYS or not value:
        return match.group(0)
    return match.group(1) + "[…]"


def redact(text: str) -> str:
    text = QUERY_VALUE.sub(_query_value, text)
    text = ENCODED_EMAIL.sub("[e-post]", text)
    text = EMAIL.sub("[e-post]", text)
    text = ENCODED_PHONE.sub("[telefon]", text)
    return PHONE.sub("[telefon]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("event", "incident_id", "user_id", "request_id", "path", "status"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        job = getattr(record, "job", None) or current_job.get()
        if job:
            entry["job"] = job
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_crisis", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._crisis = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's access log prints query strings; keep it but redacted.
    logging.getLogger("werkzeug").addFilter(RedactingFilter())
    logging.getLogger("gunicorn.access").addFilter(RedactingFilter())
    logging.getLogger("gunicorn.error").addFilter(RedactingFilter())
    # Alembic's step-by-step INFO lines ("Context impl", "Running upgrade") are for `crisis db
    # upgrade --verbose`; the commands print their own one-line summary.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The Twilio SDK logs each request in ten INFO lines (URL, headers, response headers):
    # per text, a cost and a noise the sender's own records make unnecessary.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
