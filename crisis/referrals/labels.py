"""Support organisations by name: they are rows (crisis.referrals.models), not words in crisis.core.labels."""

from __future__ import annotations

from sqlalchemy import select

from crisis.core.labels import humanise
from crisis.referrals.models import SupportOrganisation


def organisation_name(session, code: str | None) -> str:
    """A support organisation by its name, whatever its code."""
    if not code:
        return "–"
    name = session.scalar(select(SupportOrganisation.name).where(SupportOrganisation.code == code))
    return name or humanise(code)
