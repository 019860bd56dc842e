"""The read side of the live dashboard (lägesbild): what each person may see, in a few queries.

Relatives appear only as counts: the dashboard is shown on shared screens,
so it never carries a relative's name, number or label (docs/architecture.md
"Sensitive data stays in the system").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session, aliased

from crisis.auth.models import Availability, Role, User
from crisis.core.db import PerDialect, UTCDateTime, among, utcnow
from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.incidents.access import visible_incidents
from crisis.incidents.models import Incident, IncidentStatus, Relative
from crisis.organisation.models import District, Team, TeamMember
from crisis.tasks.models import Task, TaskStatus
from crisis.timeline.models import TimelineEvent

# Who may see every incident sees the whole dashboard (crisis.incidents.access).
DASHBOARD_ROLES = (Role.COORDINATOR, Role.MANAGER, Role.ADMIN)
OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)

# A reconnecting client asks for the events after a point this far behind the
# newest it saw. On PostgreSQL event ids come from a sequence when the row is
# flushed, but transactions commit in any order: an event with a smaller id
# can become visible after a larger one. Asking again from a point well before
# the newest event (and dropping ids already seen) leaves no gap unless a
# transaction stays open longer than this; requests are far shorter (the
# gunicorn timeout is 120 s). live.js uses the same value.
RESYNC_OVERLAP = timedelta(seconds=120)


def sees_everything(user: User) -> bool:
    return user.has_role(*DASHBOARD_ROLES)


@dataclass
class IncidentCard:
    id: int
    reference: str
    type: str
    status: str
    threat_level: str
    outcome: str
    district: str
    activated_at: datetime
    open_tasks: int = 0
    overdue_tasks: int = 0
    next_due_at: datetime | None = None  # when the next open task becomes overdue
    relatives: int = 0
    relatives_reached: int = 0
    dispatches_acknowledged: int = 0
    dispatches_pending: int = 0
    dispatches_exhausted: int = 0
    # Why tasks are blocked, as their owners wrote it (issue 18): the coordinator acts on these.
    blocked_reasons: list[str] = field(default_factory=list)

    @property
    def is_active(self) -> bool:
        return self.status == IncidentStatus.ACTIVE.value

    def shown(self) -> tuple:
        """Everything the card shows, as a key: equal for two cards that look the same."""
        return (self.id, self.reference, self.type, self.status, self.threat_level, self.outcome, self.district,
                self.activated_at, self.open_tasks, self.overdue_tasks, self.next_due_at, self.relatives,
                self.relatives_reached, self.dispatches_acknowledged, self.dispatches_pending,
                self.dispatches_exhausted, tuple(self.blocked_reasons))

    @classmethod
    def from_shown(cls, shown: tuple) -> IncidentCard:
        return cls(*shown[:-1], blocked_reasons=list(shown[-1]))

    def as_json(self) -> dict:
        # Field by field (not dataclasses.asdict, which deep-copies every value): the same keys.
        return {
            "id": self.id, "reference": self.reference, "type": self.type, "status": self.status,
            "threat_level": self.threat_level, "outcome": self.outcome, "district": self.district,
            "activated_at": self.activated_at.isoformat(),
            "open_tasks": self.open_tasks, "overdue_tasks": self.overdue_tasks,
            "next_due_at": self.next_due_at.isoformat() if self.next_due_at else None,
            "relatives": self.relatives, "relatives_reached": self.relatives_reached,
            "dispatches_acknowledged": self.dispatches_acknowledged, "dispatches_pending": self.dispatches_pending,
            "dispatches_exhausted": self.dispatches_exhausted, "blocked_reasons": list(self.blocked_reasons),
        }


#: Cards per dashboard page: at 1,000 active incidents the page stays small
#: and quick; the most urgent are on the first page.
PAGE_SIZE = 50


def _active_incidents(user: User, search: str | None = None):
    query = visible_incidents(user).where(Incident.status == IncidentStatus.ACTIVE)
    search = (search or "").strip()
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        in_district = select(District.id).where(District.name.ilike(pattern, escape="\\"))
        query = query.where(Incident.reference.ilike(pattern, escape="\\") | Incident.district_id.in_(in_district))
    return query


def most_urgent_first(now: datetime) -> tuple:
    """Unacknowledged alerts first, then overdue tasks, then the newest activation."""
    unacknowledged = (
        select(Dispatch.id)
        .where(Dispatch.incident_id == Incident.id,
               Dispatch.status.in_([DispatchStatus.PENDING, DispatchStatus.EXHAUSTED]))
        .correlate(Incident).exists()
    )
    overdue = (
        select(Task.id)
        .where(Task.incident_id == Incident.id, Task.status.in_(OPEN_TASK_STATUSES), Task.due_at < now)
        .correlate(Incident).exists()
    )
    return (case((unacknowledged, 0), else_=1), case((overdue, 0), else_=1),
            Incident.activated_at.desc(), Incident.id.desc())


def count_active(session: Session, user: User, search: str | None = None) -> int:
    """How many active incidents `user` may see (matching `search`)."""
    query = _active_incidents(user, search).with_only_columns(func.count(Incident.id)).order_by(None)
    return session.scalar(query) or 0


def incident_cards(session: Session, user: User, *, incident_ids: list[int] | None = None,
                   now: datetime | None = None, limit: int | None = None, offset: int = 0,
                   search: str | None = None) -> list[IncidentCard]:
    """Cards of the active incidents `user` may see, most urgent first (`most_urgent_first`),
    `limit` at a time; or of the given incidents, whatever their status."""
    now = now or utcnow()
    if incident_ids is None:
        query = _active_incidents(user, search).order_by(*most_urgent_first(now))
        if limit is not None:
            query = query.limit(limit).offset(offset)
    else:
        query = visible_incidents(user).where(Incident.id.in_(incident_ids)) \
            .order_by(Incident.activated_at.desc(), Incident.id.desc())
    # The card's columns only, as rows: no Incident objects to build, and the encrypted
    # place and police reference (which a card never shows) are neither read nor decrypted.
    # (The district under an alias: `search` has a subquery of its own on districts.)
    district = aliased(District)
    query = query.with_only_columns(
        Incident.id, Incident.reference, Incident.type, Incident.status, Incident.threat_level,
        Incident.outcome, district.name, Incident.activated_at,
    ).join(district, Incident.district_id == district.id)
    cards = {
        row[0]: IncidentCard(
            # str(): the enums are StrEnums.
            id=row[0], reference=row[1], type=str(row[2]), status=str(row[3]),
            threat_level=str(row[4]), outcome=str(row[5]), district=row[6], activated_at=row[7],
        )
        for row in session.execute(query)
    }
    if cards:
        _count_tasks(session, cards, now)
        _count_relatives(session, cards)
        _count_dispatches(session, cards)
        _blocked_reasons(session, cards)
    return list(cards.values())


# The card's figures, each one statement built once (crisis.core.db.PerDialect) and run with the
# page's incident ids (and the time): building them again for every page cost about a tenth of it.
_BLOCKED_REASONS = PerDialect(lambda dialect: (
    select(Task.incident_id, Task.blocked_reason)
    .where(among(Task.incident_id, dialect), Task.status == TaskStatus.BLOCKED, Task.blocked_reason.is_not(None))
    .order_by(Task.incident_id, Task.id)))


def _count_tasks_statement(dialect: str):
    is_open = Task.status.in_(OPEN_TASK_STATUSES)
    now = bindparam("now", type_=UTCDateTime)
    return select(
        Task.incident_id,
        func.sum(case((is_open, 1), else_=0)),
        func.sum(case((is_open & (Task.due_at < now), 1), else_=0)),
        func.min(case((is_open & (Task.due_at >= now), Task.due_at))),
    ).where(among(Task.incident_id, dialect)).group_by(Task.incident_id)


_COUNT_TASKS = PerDialect(_count_tasks_statement)
_COUNT_RELATIVES = PerDialect(lambda dialect: select(
    Relative.incident_id,
    func.count(Relative.id),
    # Reached: the first contact is recorded (the anchor of the follow-ups).
    func.sum(case((Relative.first_contact_at.is_not(None), 1), else_=0)),
).where(among(Relative.incident_id, dialect)).group_by(Relative.incident_id))
_COUNT_DISPATCHES = PerDialect(lambda dialect: (
    select(Dispatch.incident_id, Dispatch.status, func.count(Dispatch.id))
    .where(among(Dispatch.incident_id, dialect)).group_by(Dispatch.incident_id, Dispatch.status)))


def _blocked_reasons(session: Session, cards: dict[int, IncidentCard]) -> None:
    for incident_id, reason in session.execute(_BLOCKED_REASONS(session), {"ids": list(cards)}):
        cards[incident_id].blocked_reasons.append(reason)


def _count_tasks(session: Session, cards: dict[int, IncidentCard], now: datetime) -> None:
    rows = session.execute(_COUNT_TASKS(session), {"ids": list(cards), "now": now})
    for incident_id, open_tasks, overdue, next_due in rows:
        card = cards[incident_id]
        card.open_tasks, card.overdue_tasks, card.next_due_at = int(open_tasks or 0), int(overdue or 0), next_due


def _count_relatives(session: Session, cards: dict[int, IncidentCard]) -> None:
    for incident_id, total, reached in session.execute(_COUNT_RELATIVES(session), {"ids": list(cards)}):
        cards[incident_id].relatives, cards[incident_id].relatives_reached = int(total), int(reached or 0)


def _count_dispatches(session: Session, cards: dict[int, IncidentCard]) -> None:
    for incident_id, status, count in session.execute(_COUNT_DISPATCHES(session), {"ids": list(cards)}):
        card = cards[incident_id]
        if status == DispatchStatus.ACKNOWLEDGED:
            card.dispatches_acknowledged = count
        elif status == DispatchStatus.PENDING:
            card.dispatches_pending = count
        elif status == DispatchStatus.EXHAUSTED:
            card.dispatches_exhausted = count


# -- team availability -----------------------------------------------------------


@dataclass
class TeamMemberView:
    user_id: int
    name: str
    position: int
    availability: str
    on_the_way: bool = False  # acknowledged an alert of an active incident lately (issue 18)

    @property
    def shown_as(self) -> str:
        """What the dashboard shows: someone on their way is not "available"."""
        return "on_the_way" if self.on_the_way else self.availability


# Someone who acknowledged an alert this long ago is shown as on the way (or busy with it).
ON_THE_WAY_FOR = timedelta(hours=12)


@dataclass
class TeamView:
    id: int
    name: str
    district: str
    members: list[TeamMemberView] = field(default_factory=list)

    def count(self, availability: Availability | str) -> int:
        return sum(1 for m in self.members if m.shown_as == str(availability))

    def as_json(self) -> dict:
        return {
            "id": self.id, "name": self.name, "district": self.district,
            "members": [{"user_id": m.user_id, "name": m.name, "position": m.position,
                         "availability": m.availability, "on_the_way": m.on_the_way} for m in self.members],
            "available": self.count(Availability.AVAILABLE),
        }


def team_availability(session: Session) -> list[TeamView]:
    """Every team with its active members in on-call order and their availability.

    As plain rows, in two statements: the names, positions and availability shown, not
    every member's whole user record (nor the roles that come with loading one).
    """
    teams = {
        team_id: TeamView(id=team_id, name=name, district=district)
        for team_id, name, district in session.execute(
            select(Team.id, Team.name, District.name).join(District, Team.district_id == District.id)
            .order_by(District.name, Team.name))
    }
    if not teams:
        return []
    going = on_the_way(session)
    members = session.execute(
        select(TeamMember.team_id, TeamMember.user_id, TeamMember.position, User.name, User.availability)
        .join(User, TeamMember.user_id == User.id).where(User.active.is_(True))
        .order_by(TeamMember.team_id, TeamMember.position)
    )
    for team_id, user_id, position, name, availability in members:
        teams[team_id].members.append(
            TeamMemberView(user_id, name, position, str(availability), on_the_way=user_id in going))
    return list(teams.values())


def on_the_way(session: Session, now: datetime | None = None) -> set[int]:
    """Staff who acknowledged an alert of a still active incident within ON_THE_WAY_FOR."""
    since = (now or utcnow()) - ON_THE_WAY_FOR
    return set(session.scalars(
        select(Dispatch.acknowledged_by_id)
        .join(Incident, Dispatch.incident_id == Incident.id)
        .where(Dispatch.status == DispatchStatus.ACKNOWLEDGED, Dispatch.acknowledged_at >= since,
               Dispatch.acknowledged_by_id.is_not(None), Incident.status == IncidentStatus.ACTIVE)
    ))


# -- events ------------------------------------------------------------------------


def visible_events_query(user: User):
    """Timeline events `user` receives live: all of them, or those of their incidents."""
    query = select(TimelineEvent)
    if not sees_everything(user):
        incident_ids = visible_incidents(user).with_only_columns(Incident.id)
        query = query.where(TimelineEvent.incident_id.in_(incident_ids))
    return query


def events_after(session: Session, user: User, after: int, *, incident_id: int | None = None,
                 limit: int = 200) -> tuple[list[TimelineEvent], bool]:
    """Events with id > `after` that `user` may see, oldest first, and whether more follow."""
    query = visible_events_query(user).where(TimelineEvent.id > after)
    if incident_id is not None:
        query = query.where(TimelineEvent.incident_id == incident_id)
    rows = session.scalars(query.order_by(TimelineEvent.id).limit(limit + 1)).all()
    return list(rows[:limit]), len(rows) > limit


def recent_events(session: Session, user: User, limit: int = 30) -> list[TimelineEvent]:
    """The newest events `user` may see, newest first (the dashboard's feed)."""
    query = visible_events_query(user).order_by(TimelineEvent.id.desc()).limit(limit)
    return list(session.scalars(query))


def resume_after(session: Session, user: User, now: datetime | None = None) -> int:
    """Where a client that loads the dashboard now starts asking for events (see RESYNC_OVERLAP)."""
    cutoff = (now or utcnow()) - RESYNC_OVERLAP
    query = visible_events_query(user).with_only_columns(func.max(TimelineEvent.id)) \
        .where(TimelineEvent.occurred_at < cutoff)
    return session.scalar(query) or 0
