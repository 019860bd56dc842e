"""The kinds of timeline entry a reviewer filters by, and their labels.

Shared by the renderer (crisis.eventtext.render) and the case file (crisis.casefile.queries).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACCESS = "access"
# The kinds a reviewer filters by, in the order the page offers them.
KINDS = {
    "incident": _l("Incident"),
    "task": _l("Tasks"),
    "relative": _l("Relatives"),
    "message": _l("Messages"),
    "dispatch": _l("Dispatches"),
    "followup": _l("Follow-ups"),
    "staff": _l("Staff"),
    ACCESS: _l("Record access"),
}


def kind_label(kind: str) -> str:
    return str(KINDS.get(kind, kind))
