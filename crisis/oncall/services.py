"""On-call arithmetic and its write side: rotas, overrides, who is on call.

A rota is a cycle of whole days that starts on a Stockholm date and repeats
for ever. Its shifts are given in Stockholm wall-clock time ("day 1 08:00 to
day 2 08:00"), so a handover stays at 08:00 across the summer- and
winter-time changes: the shift that contains the change is 23 or 25 hours
long. The shifts must tile the cycle exactly; a gap or an overlap is refused
with the hours named. Overrides (a swapped shift, sick leave) put someone
else on call for a stretch of real time and win over the rota.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.core.db import utcnow
from crisis.oncall.models import Override, Rotation, RotationShift
from crisis.timeline.services import record_event

TZ = ZoneInfo("Europe/Stockholm")
DAY = 24 * 60
OVERRIDE_REASONS = ("swap", "sick_leave", "other")
MAX_SCHEDULE_DAYS = 62


class RotaError(ValueError):
    """A rota or override that cannot be saved; `problems` name the hours."""

    def __init__(self, problems: list):
        self.problems = list(problems)  # lazy strings: str() gives the reader's language
        super().__init__(*self.problems)

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class ShiftSpec:
    start_minute: int  # wall-clock minutes from the cycle's first midnight
    end_minute: int
    user_id: int


@dataclass(frozen=True)
class Segment:
    user: User | None
    starts_at: datetime  # UTC
    ends_at: datetime
    source: str  # rota | override | none


# -- wall-clock helpers -----------------------------------------------------------------


def minute_label(minute: int) -> str:
    """`day 2 08:00` for a minute offset in a cycle (day 1 is the first)."""
    day, rest = divmod(minute, DAY)
    return f"day {day + 1} {rest // 60:02d}:{rest % 60:02d}"


def _at(minute: int):
    """`day 2 08:00` in the reader's language (`dag 2 08:00`), for messages."""
    day, rest = divmod(minute, DAY)
    return _l("day %(day)s %(time)s", day=day + 1, time=f"{rest // 60:02d}:{rest % 60:02d}")


_SPEC = re.compile(r"^\s*(?:day\s*|dag\s*)?(\d{1,3})\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


def parse_minute(text: str) -> int:
    """`2 08:00` or `day 2 08:00` → minutes from the cycle's first midnight."""
    match = _SPEC.match(text or "")
    if not match:
        raise RotaError([_l("%(text)s is not a time in the cycle; write e.g. 'day 2 08:00'", text=repr(text))])
    day, hour, minute = (int(g) for g in match.groups())
    if day < 1 or hour > 24 or minute > 59 or (hour == 24 and minute):
        raise RotaError([_l("%(text)s is not a time in the cycle; write e.g. 'day 2 08:00'", text=repr(text))])
    return (day - 1) * DAY + hour * 60 + minute


def local_to_utc(naive: datetime) -> datetime:
    """A Stockholm wall-clock time as UTC (the earlier reading of a repeated hour)."""
    return naive.replace(tzinfo=TZ).astimezone(UTC)


def cycle_start(rotation: Rotation) -> datetime:
    return datetime.combine(rotation.starts_on, time())


def shift_bounds(rotation: Rotation, shift, cycle: int) -> tuple[datetime, datetime]:
    """UTC start and end of `shift` in cycle number `cycle` (0 = the first)."""
    base = cycle_start(rotation) + timedelta(days=cycle * rotation.cycle_days)
    return (local_to_utc(base + timedelta(minutes=shift.start_minute)),
            local_to_utc(base + timedelta(minutes=shift.end_minute)))


# -- checking a rota ----------------------------------------------------------------------


def rota_problems(cycle_days: int, shifts: list[ShiftSpec]) -> list[str]:
    """Gaps and overlaps, each with its hours; empty when the shifts tile the cycle."""
    problems = []
    if not 1 <= cycle_days <= 366:
        return [_l("the cycle is 1 to 366 days long")]
    if not shifts:
        return [_l("a rota needs at least one shift")]
    cycle = cycle_days * DAY
    ordered = sorted(shifts, key=lambda s: (s.start_minute, s.end_minute))
    for s in ordered:
        if s.end_minute <= s.start_minute:
            problems.append(_l("the shift %(start)s to %(end)s ends before it starts",
                               start=_at(s.start_minute), end=_at(s.end_minute)))
        if s.start_minute >= cycle:
            problems.append(_l("the shift starting %(start)s starts after the %(days)s-day cycle",
                               start=_at(s.start_minute), days=cycle_days))
    if problems:
        return problems
    first = ordered[0].start_minute
    if first >= DAY:
        problems.append(_l("the first shift starts %(start)s; start it on day 1", start=_at(first)))
    reach = first
    for s in ordered:
        if s.start_minute > reach:
            problems.append(_l("gap: nobody is on call from %(start)s to %(end)s", start=_at(reach),
                               end=_at(s.start_minute)))
        elif s.start_minute < reach:
            problems.append(_l("overlap: two people are on call from %(start)s to %(end)s",
                               start=_at(s.start_minute), end=_at(min(reach, s.end_minute))))
        reach = max(reach, s.end_minute)
    end = first + cycle
    if reach < end:
        problems.append(_l("gap: nobody is on call from %(start)s to %(end)s (the cycle repeats after %(days)s days)",
                           start=_at(reach), end=_at(end), days=cycle_days))
    elif reach > end:
        problems.append(_l("overlap: the shifts run to %(end)s but the next cycle starts at %(start)s",
                           end=_at(reach), start=_at(end)))
    return problems


def simple_rotation(user_ids: list[int], *, handover: str = "08:00", shift_days: int = 1) -> tuple[int, list[ShiftSpec]]:
    """Members take turns of `shift_days` days, handing over at `handover` (Stockholm time)."""
    hour, minute = (int(x) for x in handover.split(":"))
    start = hour * 60 + minute
    length = shift_days * DAY
    shifts = [ShiftSpec(start + i * length, start + (i + 1) * length, uid) for i, uid in enumerate(user_ids)]
    return shift_days * len(user_ids), shifts


def parse_rota_text(session: Session, text: str) -> list[ShiftSpec]:
    """Lines `day 1 08:00 - day 2 08:00 e-mail` (the rota page's text form)."""
    shifts, problems = [], []
    for n, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^(.+?)\s*[-–]\s*(.+?)\s+(\S+@\S+)$", line)
        if not match:
            problems.append(_l("line %(n)s: write 'day 1 08:00 - day 2 08:00 name@example.se'", n=n))
            continue
        try:
            start, end = parse_minute(match.group(1)), parse_minute(match.group(2))
        except RotaError as error:
            problems.append(_l("line %(n)s: %(problem)s", n=n, problem=error.problems[0]))
            continue
        user = session.scalar(select(User).where(User.email == match.group(3).lower()))
        if user is None:
            problems.append(_l("line %(n)s: no staff with e-mail %(email)s", n=n, email=match.group(3)))
            continue
        shifts.append(ShiftSpec(start, end, user.id))
    if problems:
        raise RotaError(problems)
    return shifts


def rota_text(rotation: Rotation | None) -> str:
    if rotation is None:
        return ""
    return "\n".join(f"{minute_label(s.start_minute)} - {minute_label(s.end_minute)} {s.user.email}"
                     for s in rotation.shifts)


# -- writing ------------------------------------------------------------------------------


def save_rotation(session: Session, team, *, starts_on: date, cycle_days: int, shifts: list[ShiftSpec],
                  actor) -> Rotation:
    """Replace the team's rota; refused (RotaError) with every gap and overlap named."""
    problems = rota_problems(cycle_days, shifts) if len(shifts) <= 500 else [_l("a rota has at most 500 shifts")]
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({s.user_id for s in shifts})))}
    for s in shifts:
        user = users.get(s.user_id)
        if user is None:
            problems.append(_l("no staff with id %(id)s", id=s.user_id))
        elif not user.active:
            problems.append(_l("staff %(id)s is deactivated", id=s.user_id))
    if problems:
        raise RotaError(problems)
    rotation = session.scalar(select(Rotation).where(Rotation.team_id == team.id))
    if rotation is None:
        rotation = Rotation(team_id=team.id, starts_on=starts_on, cycle_days=cycle_days)
        session.add(rotation)
        session.flush()
    else:
        session.execute(delete(RotationShift).where(RotationShift.rotation_id == rotation.id))
        session.expire(rotation, ["shifts"])
        rotation.starts_on, rotation.cycle_days = starts_on, cycle_days
    rotation.updated_at = utcnow()
    for s in shifts:
        session.add(RotationShift(rotation_id=rotation.id, start_minute=s.start_minute, end_minute=s.end_minute,
                                  user_id=s.user_id))
    session.flush()
    session.expire(rotation, ["shifts"])
    record_event(session, kind="staff", type="oncall.rota_saved", actor=actor, subject=team,
                 summary=f"On-call rota of team {team.id} saved ({len(shifts)} shifts, {cycle_days}-day cycle)",
                 data={"team_id": team.id, "starts_on": starts_on.isoformat(), "cycle_days": cycle_days,
                       "shifts": [[s.start_minute, s.end_minute, s.user_id] for s in shifts]})
    return rotation


def _local(value: datetime) -> str:
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def add_override(session: Session, team, *, user: User, starts_at: datetime, ends_at: datetime,
                 reason: str = "swap", actor) -> Override:
    problems = []
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise RotaError([_l("give times with a time zone")])
    if ends_at <= starts_at:
        problems.append(_l("the override ends (%(end)s) before it starts (%(start)s)", end=_local(ends_at),
                           start=_local(starts_at)))
    if reason not in OVERRIDE_REASONS:
        problems.append(_l("reason is one of: %(reasons)s", reasons=", ".join(OVERRIDE_REASONS)))
    if not user.active:
        problems.append(_l("staff %(id)s is deactivated", id=user.id))
    clash = session.scalars(select(Override).where(
        Override.team_id == team.id, Override.starts_at < ends_at, Override.ends_at > starts_at)).all()
    for other in clash:
        problems.append(_l("overlap: another override already covers %(start)s to %(end)s (Stockholm time)",
                           start=_local(max(starts_at, other.starts_at)), end=_local(min(ends_at, other.ends_at))))
    if problems:
        raise RotaError(problems)
    override = Override(team_id=team.id, user_id=user.id, starts_at=starts_at, ends_at=ends_at, reason=reason,
                        created_by_id=getattr(actor, "id", None))
    session.add(override)
    session.flush()
    record_event(session, kind="staff", type="oncall.override_added", actor=actor, subject=override,
                 summary=f"On-call override for team {team.id}: staff {user.id} ({reason})",
                 data={"team_id": team.id, "override_id": override.id, "user_id": user.id, "reason": reason,
                       "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    return override


def remove_override(session: Session, override: Override, *, actor) -> None:
    record_event(session, kind="staff", type="oncall.override_removed", actor=actor, subject=override,
                 summary=f"On-call override {override.id} of team {override.team_id} removed",
                 data={"team_id": override.team_id, "override_id": override.id, "user_id": override.user_id})
    session.delete(override)


# -- reading ------------------------------------------------------------------------------


def rotation_of(session: Session, team) -> Rotation | None:
    return session.scalar(select(Rotation).where(Rotation.team_id == team.id))


def _rota_user_at(rotation: Rotation, at: datetime) -> RotationShift | None:
    if not rotation.shifts:
        return None
    local = at.astimezone(TZ).replace(tzinfo=None)
    minutes = int((local - cycle_start(rotation)).total_seconds() // 60)
    first = rotation.shifts[0].start_minute
    if minutes < first:
        return None  # the rota has not started
    offset = (minutes - first) % (rotation.cycle_days * DAY) + first
    return next((s for s in rotation.shifts if s.start_minute <= offset < s.end_minute), None)


def _override_at(session: Session, team, at: datetime) -> Override | None:
    return session.scalar(
        select(Override).where(Override.team_id == team.id, Override.starts_at <= at, Override.ends_at > at)
        .order_by(Override.created_at.desc(), Override.id.desc()).limit(1)
    )


def who_is_on_call(session: Session, team, at: datetime | None = None) -> User | None:
    """The person on call for `team` at `at` (now): an override, else the rota; None without a rota."""
    at = at or utcnow()
    override = _override_at(session, team, at)
    if override is not None:
        return override.user
    rotation = rotation_of(session, team)
    if rotation is None:
        return None
    shift = _rota_user_at(rotation, at)
    return shift.user if shift is not None else None


def _rota_segments(rotation: Rotation, start: datetime, end: datetime) -> list[Segment]:
    if not rotation.shifts:
        return []
    cycle_minutes = rotation.cycle_days * DAY
    local_start = start.astimezone(TZ).replace(tzinfo=None)
    elapsed = (local_start - cycle_start(rotation)).total_seconds() // 60
    k = max(int(elapsed // cycle_minutes) - 1, 0)
    segments = []
    while shift_bounds(rotation, rotation.shifts[0], k)[0] < end:
        for shift in rotation.shifts:
            s, e = shift_bounds(rotation, shift, k)
            if s < end and e > start:
                segments.append(Segment(shift.user, max(s, start), min(e, end), "rota"))
        k += 1
    return segments


def on_call_schedule(session: Session, team, start: datetime | None = None, days: int = 14) -> list[Segment]:
    """Who is on call from `start` (now) for `days` days: rota and overrides merged, in order."""
    start = start or utcnow()
    days = max(1, min(days, MAX_SCHEDULE_DAYS))
    end = start + timedelta(days=days)
    rotation = rotation_of(session, team)
    rota = _rota_segments(rotation, start, end) if rotation is not None else []
    overrides = session.scalars(select(Override).where(
        Override.team_id == team.id, Override.starts_at < end, Override.ends_at > start)
        .order_by(Override.created_at, Override.id)).all()
    points = {start, end}
    for seg in rota:
        points.update((seg.starts_at, seg.ends_at))
    for o in overrides:
        points.update((max(o.starts_at, start), min(o.ends_at, end)))
    ordered = sorted(points)
    out: list[Segment] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        mid = a + (b - a) / 2
        override = next((o for o in reversed(overrides) if o.starts_at <= mid < o.ends_at), None)
        if override is not None:
            user, source = override.user, "override"
        else:
            seg = next((s for s in rota if s.starts_at <= mid < s.ends_at), None)
            user, source = (seg.user, "rota") if seg is not None else (None, "none")
        if out and out[-1].user is user and out[-1].source == source:
            out[-1] = Segment(user, out[-1].starts_at, b, source)
        else:
            out.append(Segment(user, a, b, source))
    if not rota and not overrides:
        return []
    return out


def shifts_of_user(session: Session, user: User, start: datetime, days: int = 60) -> list[tuple[object, Segment]]:
    """(team, segment) for every stretch `user` is on call in the window (for the calendar feed)."""
    from crisis.organisation.models import Team

    team_ids = set(session.scalars(select(RotationShift.rotation_id).where(RotationShift.user_id == user.id)))
    team_ids = set(session.scalars(select(Rotation.team_id).where(Rotation.id.in_(team_ids)))) if team_ids else set()
    team_ids |= set(session.scalars(select(Override.team_id).where(Override.user_id == user.id)))
    out = []
    for team in session.scalars(select(Team).where(Team.id.in_(team_ids)).order_by(Team.id)) if team_ids else []:
        for seg in on_call_schedule(session, team, start, days):
            if seg.user is not None and seg.user.id == user.id:
                out.append((team, seg))
    return out
