"""Bidirectional control characters out of names and typed text (issue 14, finding 16).

U+202E (RIGHT-TO-LEFT OVERRIDE) and its relatives reorder how text is shown:
"Anna\u202eredrO" reads as "AnnaOrder" backwards, a name can be made to look
like another, or a file name in an export to end differently than it does
("Trojan Source", CVE-2021-42574). Names of relatives, persons and staff,
and the free text staff type, are stored without them: the characters are
removed when the value is set, whichever path (form, API, command) set it.
Right-to-left scripts themselves (Arabic, Hebrew) are untouched: only the
invisible controls go. Each capability names its own such columns at the end
of its models module (`strip_controls(...)`), so the rule holds wherever the
model is used.
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


def strip_controls(*attributes) -> None:
    """Remove the controls from these text attributes whenever they are set."""
    for attribute in attributes:
        if not event.contains(attribute, "set", _on_set):
            event.listen(attribute, "set", _on_set, retval=True)


def strip_controls_from_texts(*attributes) -> None:
    """The same for attributes holding texts by language ({"sv": ..., "en": ...})."""
    for attribute in attributes:
        if not event.contains(attribute, "set", _on_set_map):
            event.listen(attribute, "set", _on_set_map, retval=True)


def neutralise_texts(value):
    """`neutralise` for texts by language ({"sv": ..., "en": ...}); what the listener below does,
    for rows written without ORM objects (a bulk INSERT sets no attributes)."""
    if isinstance(value, dict):
        return {key: neutralise(text) for key, text in value.items()}
    return value


def _on_set_map(target, value, oldvalue, initiator):
    return neutralise_texts(value)
