"""Fixtures for dispatch tests: a district with an on-call team, a coordinator and an incident."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.messaging.conftest import (  # noqa: F401  (fixtures shared with messaging tests)
    create_staff,
    create_twilio_gateway,
    fake_twilio,
    no_pacing,
    recording_gateway,
    sender_settings,
    signed_post,
    twilio_app,
)


@dataclass
class World:
    district: object
    team: object
    members: list
    coordinator: object
    incident: object


@pytest.fixture
def create_world(session, create_district, create_team, create_incident, create_snapshot,
                 create_staff):  # noqa: F811  (the shared fixture, imported above)
    """Factory: a team of `size` outreach staff (on-call order as listed) and an incident.

    `escalation` and `messages` override the playbook's settings; with
    `can_log_in` the first member and the coordinator have the password of
    tests.conftest.login.
    """

    def factory(size: int = 3, *, escalation: dict | None = None, messages: dict | None = None,
                coordinator: bool = True, district=None, can_log_in: bool = False, **incident_fields) -> World:
        district = district or create_district()
        members = [create_staff("outreach", can_log_in=can_log_in and i == 0) for i in range(size)]
        team = create_team(district, members)
        boss = create_staff("coordinator", district=district, can_log_in=can_log_in) if coordinator else None
        content = {
            "id": "test-plan", "version": 1, "title": {"sv": "Testplan", "en": "Test plan"},
            "applies_to": ["shooting"], "phases": [],
            "messages": {
                "dispatch": {"sv": "Larm {ref}: {kind}. Bekräfta: {link}",
                             "en": "Alert {ref}: {kind}. Acknowledge: {link}"},
                "dispatch_escalation": {"sv": "Obekräftat larm {ref}: {kind}. Du är nästa i tur: {link}",
                                        "en": "Unacknowledged alert {ref}: {kind}. You are next: {link}"},
                **(messages or {}),
            },
            "escalation": {"dispatch_ack_within": "10m", "escalate_to": ["next_in_team", "coordinator"],
                           "task_overdue_notify": ["coordinator"], **(escalation or {})},
        }
        snapshot = create_snapshot(content, playbook_id=f"plan-{abs(hash(str(content))) % 10**8}")
        incident = create_incident(district=district, coordinator=boss, snapshot=snapshot, **incident_fields)
        # The factories leave plain strings where the enums go: load the rows
        # again (refresh, not expire, so they stay readable between requests).
        for row in (district, team, *members, *([boss] if boss else []), incident):
            session.refresh(row)
        return World(district, team, members, boss, incident)

    return factory
