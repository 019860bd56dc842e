"""Finding 16 (issue 14): names with bidirectional control characters (U+202E and the rest) are neutralised,
whichever way they come in; right-to-left scripts themselves are kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crisis.auth.services import create_user
from crisis.core.textsafety import neutralise
from crisis.incidents.models import Relative

CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
            "\u200e", "\u200f", "\u061c"]


@pytest.mark.parametrize("control", CONTROLS)
def test_every_control_is_removed(control):
    assert neutralise(f"Anna{control}nossrevA") == "AnnanossrevA"


def test_right_to_left_scripts_are_kept():
    assert neutralise("فاطمة אסתר") == "فاطمة אסתר"


def test_a_relative_named_over_the_api_is_stored_without_controls(client, create_user, create_incident,
                                                                  session):
    from crisis.auth.services import create_token

    coordinator = create_user("coordinator")
    incident = create_incident(coordinator=coordinator)
    token = create_token(session, coordinator).token
    session.commit()
    response = client.post(f"/api/v1/incidents/{incident.id}/relatives",
                           headers={"Authorization": f"Bearer {token}"},
                           json={"relation": "parent", "name": "Fatima\u202e nossttseT", "notes": "ring\u2066 efter"})
    assert response.status_code == 201, response.get_json()
    session.remove()
    relative = session.scalar(select(Relative).where(Relative.id == response.get_json()["id"]))
    assert relative.name == "Fatima nossttseT" and relative.notes == "ring efter"


def test_staff_names_are_neutralised(session):
    user = create_user(session, email="bidi@example.se", roles=["outreach"], name="Admin\u202egnirts")
    session.commit()
    assert user.name == "Admingnirts"
