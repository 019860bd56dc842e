"""The Socket.IO namespace and room names of the live dashboard (docs/architecture.md "Socket.IO rooms").

- `dashboard`: every event; coordinators, managers and admins (they may see
  every incident, crisis.incidents.access).
- `incident:<id>`: the events of one incident; anyone allowed to view it.
- `user:<id>`: one staff member's own sockets. The server puts each socket
  there when it connects; clients cannot join it. It carries the events of the
  incidents the member is assigned to (how outreach staff follow their work)
  and is how logout and deactivation find the sockets to disconnect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMESPACE = "/live"
DASHBOARD = "dashboard"
EVENT = "timeline"  # the Socket.IO event name; its payload is TimelineEvent.as_json()

_INCIDENT_ROOM = re.compile(r"incident:([1-9][0-9]{0,17})")


def incident_room(incident_id: int) -> str:
    return f"incident:{incident_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True)
class RoomRequest:
    """A room a client asked to join: the dashboard or one incident."""

    name: str
    incident_id: int | None = None


def parse_room(value) -> RoomRequest | None:
    """`dashboard` or `incident:<id>`; anything else (user rooms included) is None."""
    if not isinstance(value, str):
        return None
    if value == DASHBOARD:
        return RoomRequest(DASHBOARD)
    match = _INCIDENT_ROOM.fullmatch(value)
    if match:
        return RoomRequest(value, int(match.group(1)))
    return None
