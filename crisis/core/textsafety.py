"""Bidirectional control characters out of names and typed text (issue 14, finding 16).

U+202E (RIGHT-TO-LEFT OVERRIDE) and its relatives reorder how text is shown:
"Anna\u202eredrO" reads as "AnnaOrder" backwards, a name can be made to look
like another, or a file name in an export to end differently than it does
("Trojan Source", CVE-2021-42574). Names of relatives, persons and staff,
and the free text staff type, are stored without them: the characters are
removed when the value is set, whichever path (form, API, command) set it.
Right-to-left scripts themselves (Arabic, Hebrew) are untouched: only the
invisible controls go.
"""

from __future__ import annotations

import re

from sqlalchemy import event

# Embeddings, overrides, isolates, and the implicit marks (LRM, RLM, ALM).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def neutralise(value):
    """`value` without bidirectional control characters (non-text values unchanged)."""
    if isinstance(value, str):
        return BIDI_CONTROLS.sub("", value)
    return value


def _on_set(target, value, oldvalue, initiator):
    return neutralise(value)


def install() -> None:
    """Strip the controls from every name and typed-text attribute as it is set."""
    from crisis.auth.models import User
    from crisis.incidents.models import AffectedPerson, ConsentRecord, Incident, Relative
    from crisis.tasks.models import Task

    attributes = [User.name, Relative.name, Relative.label, Relative.notes, AffectedPerson.name,
                  AffectedPerson.label, Incident.place, Incident.police_reference, ConsentRecord.note,
                  Task.note]
    for attribute in attributes:
        if not event.contains(attribute, "set", _on_set):
            event.listen(attribute, "set", _on_set, retval=True)
    for attribute in (Task.title, Task.description):
        if not event.contains(attribute, "set", _on_set_map):
            event.listen(attribute, "set", _on_set_map, retval=True)


def _on_set_map(target, value, oldvalue, initiator):
    if isinstance(value, dict):
        return {key: neutralise(text) for key, text in value.items()}
    return value
