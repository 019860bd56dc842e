"""The API's JSON for referrals to support organisations, and their published schema (Referral)."""

from __future__ import annotations

from crisis.core.apischema import ID_OR_NULL, TIME, iso
from crisis.core.openapi import document
from crisis.referrals.models import Referral


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


document(schemas={
    "Referral": {
        "type": "object", "required": ["id", "relative_id", "organisation", "status", "referred_at"],
        "properties": {
            "id": {"type": "integer"}, "relative_id": {"type": "integer"},
            "organisation": {"type": "object", "properties": {
                "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}}},
            "status": {"type": "string"}, "referred_at": TIME, "referred_by_id": ID_OR_NULL,
            "note": {"type": ["string", "null"]},
        },
    },
})
