"""Who may see what (the access matrix in docs/access-matrix.md).

- admin: every incident and relative.
- coordinator: every incident (SIG coordinators cover for each other at
  night); relatives' details of every incident, except protected identities,
  which only the incident's coordinator and the relative's contact person see.
- manager: every incident's timeline and figures, but relatives' contact
  details only when also assigned to the incident.
- outreach: only incidents they are assigned to, and those incidents' relatives.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from crisis.auth.models import Role, User
from crisis.incidents.models import Incident, IncidentAssignment, Relative


def is_assigned(session, user: User, incident_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        IncidentAssignment.incident_id == incident_id, IncidentAssignment.user_id == user.id
    ))))


def can_view_incident(session, user: User, incident: Incident) -> bool:
    if user.has_role(Role.ADMIN, Role.COORDINATOR, Role.MANAGER):
        return True
    if incident.coordinator_id == user.id:
        return True
    return is_assigned(session, user, incident.id)


def can_edit_incident(session, user: User, incident: Incident) -> bool:
    """Change facts, relatives, tasks of other people: coordinators and admins."""
    return user.has_role(Role.ADMIN, Role.COORDINATOR)


def assigned_among(session, user: User, incident_ids) -> set[int]:
    """Of `incident_ids`, those `user` is assigned to: `is_assigned` for a whole list in one query."""
    ids = list(incident_ids)
    if not ids:
        return set()
    return set(session.scalars(select(IncidentAssignment.incident_id).where(
        IncidentAssignment.user_id == user.id, IncidentAssignment.incident_id.in_(ids))))


def can_see_relative_details(session, user: User, relative: Relative,
                             assigned: Callable[[int], bool] | None = None) -> bool:
    """Names and phone numbers of a relative (not the anonymous label).

    `assigned(incident_id)` answers `is_assigned` for a caller that knows it already (a list
    that asked `assigned_among` once for all its incidents); by default it asks the database.
    """
    incident = relative.incident
    if relative.protected_identity:
        # Skyddade personuppgifter: only the contact person and the incident's coordinator.
        return user.id in {relative.contact_person_id, incident.coordinator_id}
    if user.has_role(Role.ADMIN, Role.COORDINATOR):
        return True
    if relative.contact_person_id == user.id:
        return True
    if assigned is not None:
        return assigned(incident.id)
    return is_assigned(session, user, incident.id)


def visible_incidents(user: User) -> Select:
    """A query of the incidents `user` may see."""
    query = select(Incident)
    if user.has_role(Role.ADMIN, Role.COORDINATOR, Role.MANAGER):
        return query
    assigned = select(IncidentAssignment.incident_id).where(IncidentAssignment.user_id == user.id)
    return query.where(Incident.id.in_(assigned) | (Incident.coordinator_id == user.id))


def assign(session, user_id: int, incident_id: int) -> bool:
    """Give `user_id` access to the incident; True if this is new."""
    if session.get(IncidentAssignment, (incident_id, user_id)) is not None:
        return False
    session.add(IncidentAssignment(incident_id=incident_id, user_id=user_id))
    return True


def team_ids_of(session, user: User) -> set[int]:
    from crisis.organisation.models import TeamMember

    return set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))


def can_work_task(session, user: User, task) -> bool:
    """Update status, checklist and note: coordinators and admins any task; outreach
    staff tasks they or their team own (or nobody owns) on incidents they are assigned to."""
    if user.has_role(Role.ADMIN, Role.COORDINATOR):
        return True
    if not user.has_role(Role.OUTREACH) or not is_assigned(session, user, task.incident_id):
        return False
    if task.owner_user_id is not None:
        return task.owner_user_id == user.id
    return task.owner_team_id is None or task.owner_team_id in team_ids_of(session, user)


def viewable_incident_or_404(session: Session, user: User, incident_id: int, query=None) -> Incident:
    """The incident, if `user` may see it (404 if there is none, 403 if not assigned); `query`
    (with an :incident_id parameter) reads it with what a page needs of it."""
    if query is None:
        incident = session.get(Incident, incident_id)
    else:
        incident = session.scalars(query, {"incident_id": incident_id}).one_or_none()
    if incident is None:
        abort(404, _("No such incident."))
    # Outreach staff see only incidents they are assigned to.
    if not can_view_incident(session, user, incident):
        abort(403, _("You are not assigned to this incident."))
    return incident
