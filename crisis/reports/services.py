"""The figures of the equity report: the same measures for every district (seed 004, 4.4 and 4.6).

The city's evaluation of the programme for relatives found unequal support
between districts and no systematic follow-up (seed 004). This module turns
the rows the response leaves behind into the measures that make both
visible, per district and city-wide, for a period of Stockholm calendar
days. It reads only; nothing here writes.

What each measure counts (shown on the report page as well):

- **Incidents**: responses activated in the period, by type and outcome.
- **Relatives reached**: relatives registered on those incidents with a first
  contact recorded (`Relative.first_contact_at`), as of when the report is
  made. Time to first contact runs from the incident's activation to that
  first contact, over the relatives reached (a contact recorded as earlier
  than the activation counts as 0).
- **Dispatch acknowledgement**: dispatches created in the period (cancelled
  ones that nobody acknowledged are left out); time from the dispatch to its
  acknowledgement, over the acknowledged ones.
- **Follow-ups kept on time**: follow-ups whose due date falls in the period
  and has passed (cancelled ones left out). Kept on time = the relative was
  reached, or was reached and declined further contact, on or before the
  due date (Stockholm calendar day). A follow-up moved to a date agreed with
  the relative, or retried the next working day after an unanswered call, is
  measured against its new date. Open or late ones are not on time.
- **Practical help done by the deadline**: tasks of category practical help
  whose deadline falls in the period and has passed (not applicable and
  cancelled ones left out); done on or before the deadline's date.
- **Breakdowns** by the relatives' gender, age band, child/adult and
  language (the statistics the relatives' consultants keep, seed 004 3.6.1)
  for the relatives and follow-up measures, city-wide or for one district.

No figure names anyone: rows are counted, and small counts are suppressed
(crisis.reports.disclosure) across all tables at once, so the same cell is
hidden wherever it appears and the result does not depend on which district
the breakdowns are shown for.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crisis.core.db import utcnow
from crisis.core.holidays import STOCKHOLM, local_date
from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.incidents import labels
from crisis.incidents.models import AgeBand, Gender, Incident, IncidentType, Outcome, Relative
from crisis.organisation.models import District
from crisis.reports import figures
from crisis.reports.disclosure import Protection
from crisis.reports.figures import Figure, Unit
from crisis.tasks.models import Task, TaskCategory, TaskStatus

CITY = None  # the key of the city-wide row in every table
ALL = None  # "every value" of a dimension or status

EARLIEST_START = date(2000, 1, 1)
LONGEST_PERIOD = timedelta(days=10 * 366)

KEPT = (FollowUpStatus.REACHED, FollowUpStatus.DECLINED)  # the relative was spoken to


class ReportError(ValueError):
    """A period or scope the report cannot be made for; the message says what to fix
    (in English, for the API); `reason` lets a page say it in the user's language."""

    def __init__(self, message: str, field: str, reason: str):
        super().__init__(message)
        self.field = field
        self.reason = reason  # bad_date, too_early, end_before_start, too_long, no_district


# -- the period ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Stockholm calendar days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(), STOCKHOLM).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The first moment after the period (midnight after `end`, Stockholm)."""
        return datetime.combine(self.end + timedelta(days=1), time(), STOCKHOLM).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def last_twelve_months(cls, today: date) -> Period:
        return cls(start=_one_year_before(today) + timedelta(days=1), end=today)

    @classmethod
    def calendar_year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, today: date) -> Period:
        """Dates as YYYY-MM-DD; without an end, today; without a start, the twelve months
        up to the end."""
        end_day = _parse_day(end, "end") if end else today
        start_day = _parse_day(start, "start") if start else cls.last_twelve_months(end_day).start
        if start_day < EARLIEST_START:
            raise ReportError(f"start must be {EARLIEST_START.isoformat()} or later.", "start", "too_early")
        if end_day < start_day:
            raise ReportError("end is before start; give the first and the last day of the period.", "end",
                              "end_before_start")
        if end_day - start_day > LONGEST_PERIOD:
            raise ReportError("The period is longer than ten years; choose a shorter one.", "end", "too_long")
        return cls(start_day, end_day)


def _one_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _parse_day(text: str, field_name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{field_name} must be a date written as YYYY-MM-DD (got {text[:20]!r}).",
                          field_name, "bad_date") from None


def today_in_stockholm(now: datetime | None = None) -> date:
    return local_date(now or utcnow())


# -- the rows the figures come from --------------------------------------------------------


DIMENSIONS = ("gender", "age_band", "child", "language")


@dataclass(frozen=True)
class Fact:
    """One case: its district, its relative's attributes (if any), its status and duration."""

    district_id: int
    status: str
    dims: tuple[tuple[str, str], ...] = ()
    duration: float | None = None  # hours or minutes, for the relatives and dispatch measures


def _relative_dims(gender: Gender, age_band: AgeBand, is_child: bool, language: str) -> tuple:
    return (("gender", Gender(gender).value), ("age_band", AgeBand(age_band).value),
            ("child", "child" if is_child else "adult"), ("language", (language or "sv").lower()))


def _hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def _minutes(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 60)


def _on_or_before_due_day(done_at: datetime | None, due_at: datetime) -> bool:
    return done_at is not None and local_date(done_at) <= local_date(due_at)


@dataclass
class Facts:
    incidents: list[tuple[int, str, str]] = field(default_factory=list)  # district, type, outcome
    relatives: list[Fact] = field(default_factory=list)  # status reached | not_reached, hours
    dispatches: list[Fact] = field(default_factory=list)  # acknowledged | not_acknowledged, minutes
    follow_ups: list[Fact] = field(default_factory=list)  # on_time | late
    practical_help: list[Fact] = field(default_factory=list)  # on_time | late


def collect_facts(session: Session, period: Period, now: datetime) -> Facts:
    """Read the period's rows: a handful of portable SELECTs, computed on in Python."""
    facts = Facts()
    # A withdrawn activation (made by mistake, issue 18) is no case: it counts nowhere.
    in_period = (Incident.withdrawn_at.is_(None) & (Incident.activated_at >= period.starts_at)
                 & (Incident.activated_at < period.ends_at))
    for district_id, type_, outcome in session.execute(
        select(Incident.district_id, Incident.type, Incident.outcome).where(in_period)
    ):
        facts.incidents.append((district_id, IncidentType(type_).value, Outcome(outcome).value))

    for row in session.execute(
        select(Incident.district_id, Incident.activated_at, Relative.first_contact_at, Relative.gender,
               Relative.age_band, Relative.is_child, Relative.language)
        .join(Incident, Relative.incident_id == Incident.id).where(in_period)
    ):
        reached = row.first_contact_at is not None
        facts.relatives.append(Fact(
            row.district_id, "reached" if reached else "not_reached",
            _relative_dims(row.gender, row.age_band, row.is_child, row.language),
            _hours(row.activated_at, row.first_contact_at) if reached else None,
        ))

    for row in session.execute(
        select(Incident.district_id, Dispatch.created_at, Dispatch.acknowledged_at)
        .join(Incident, Dispatch.incident_id == Incident.id)
        .where(Dispatch.created_at >= period.starts_at, Dispatch.created_at < period.ends_at)
        # A dispatch cancelled before anyone answered was not waiting for anyone.
        .where((Dispatch.status != DispatchStatus.CANCELLED) | Dispatch.acknowledged_at.is_not(None))
    ):
        acknowledged = row.acknowledged_at is not None
        facts.dispatches.append(Fact(
            row.district_id, "acknowledged" if acknowledged else "not_acknowledged",
            duration=_minutes(row.created_at, row.acknowledged_at) if acknowledged else None,
        ))

    # Only due dates that are over: whether they were kept is known.
    today_starts = datetime.combine(local_date(now), time(), STOCKHOLM).astimezone(UTC)
    due_until = min(period.ends_at, today_starts)
    for row in session.execute(
        select(Incident.district_id, FollowUp.due_at, FollowUp.status, FollowUp.completed_at,
               Relative.gender, Relative.age_band, Relative.is_child, Relative.language)
        .join(Relative, FollowUp.relative_id == Relative.id)
        .join(Incident, FollowUp.incident_id == Incident.id)
        .where(FollowUp.due_at >= period.starts_at, FollowUp.due_at < due_until,
               FollowUp.status != FollowUpStatus.CANCELLED)
    ):
        kept = FollowUpStatus(row.status) in KEPT and _on_or_before_due_day(row.completed_at, row.due_at)
        facts.follow_ups.append(Fact(
            row.district_id, "on_time" if kept else "late",
            _relative_dims(row.gender, row.age_band, row.is_child, row.language),
        ))

    for row in session.execute(
        select(Incident.district_id, Task.due_at, Task.status, Task.completed_at)
        .join(Incident, Task.incident_id == Incident.id)
        .where(Task.category == TaskCategory.PRACTICAL_HELP,
               Task.due_at >= period.starts_at, Task.due_at < due_until,
               Task.status.not_in([TaskStatus.NOT_APPLICABLE, TaskStatus.CANCELLED]))
    ):
        done = TaskStatus(row.status) == TaskStatus.DONE and _on_or_before_due_day(row.completed_at, row.due_at)
        facts.practical_help.append(Fact(row.district_id, "on_time" if done else "late"))
    return facts


# -- counting into one protected system ------------------------------------------------------


MEASURE_STATUSES = {
    "relatives": ("reached", "not_reached"),
    "dispatches": ("acknowledged", "not_acknowledged"),
    "follow_ups": ("on_time", "late"),
    "practical_help": ("on_time", "late"),
}
INCIDENT_GROUPS = {"type": [t.value for t in IncidentType], "outcome": [o.value for o in Outcome]}


def dimension_values(facts: Facts) -> dict[str, list[str]]:
    """Every value a breakdown has rows for: the whole enum, and the languages that occur."""
    languages = {dict(f.dims)["language"] for f in (*facts.relatives, *facts.follow_ups)}
    return {
        "gender": [g.value for g in (Gender.WOMAN, Gender.MAN, Gender.OTHER, Gender.UNKNOWN)],
        "age_band": [a.value for a in AgeBand],
        "child": ["child", "adult"],
        "language": sorted(languages, key=lambda code: (code != "sv", code)),
    }


def _split_measure(protection: Protection, measure: str, facts: list[Fact], district_ids: list[int],
                   dims: dict[str, list[str]]) -> dict[tuple, list[float]]:
    """Counts of one two-way measure (e.g. reached / not reached) for every district and
    breakdown value, with the sums that tie them; returns the durations per cell."""
    statuses = MEASURE_STATUSES[measure]
    counts: Counter = Counter()
    durations: dict[tuple, list[float]] = defaultdict(list)
    for fact in facts:
        attributes = [(ALL, ALL), *fact.dims]
        for district in (fact.district_id, CITY):
            for dim, value in attributes:
                for status in (fact.status, ALL):
                    counts[(measure, district, dim, value, status)] += 1
                if fact.duration is not None:
                    durations[(district, dim, value)].append(fact.duration)

    groups = [(ALL, ALL)] + [(dim, value) for dim, values in dims.items() for value in values]
    districts = [*district_ids, CITY]
    for district in districts:
        for dim, value in groups:
            for status in (*statuses, ALL):
                key = (measure, district, dim, value, status)
                protection.add(key, counts[key])
    for district in districts:
        for dim, value in groups:
            protection.relate((measure, district, dim, value, ALL),
                              [(measure, district, dim, value, s) for s in statuses])
        for dim, values in dims.items():
            for status in (*statuses, ALL):
                protection.relate((measure, district, ALL, ALL, status),
                                  [(measure, district, dim, v, status) for v in values])
    for dim, value in groups:
        for status in (*statuses, ALL):
            protection.relate((measure, CITY, dim, value, status),
                              [(measure, d, dim, value, status) for d in district_ids])
    return durations


def _incident_counts(protection: Protection, incidents: list[tuple[int, str, str]],
                     district_ids: list[int]) -> None:
    counts: Counter = Counter()
    for district_id, type_, outcome in incidents:
        for district in (district_id, CITY):
            counts[("incidents", district, ALL, ALL)] += 1
            counts[("incidents", district, "type", type_)] += 1
            counts[("incidents", district, "outcome", outcome)] += 1
    districts = [*district_ids, CITY]
    cells = [(ALL, ALL)] + [(g, v) for g, values in INCIDENT_GROUPS.items() for v in values]
    for district in districts:
        for group, value in cells:
            key = ("incidents", district, group, value)
            protection.add(key, counts[key])
        for group, values in INCIDENT_GROUPS.items():
            protection.relate(("incidents", district, ALL, ALL),
                              [("incidents", district, group, v) for v in values])
    for group, value in cells:
        protection.relate(("incidents", CITY, group, value),
                          [("incidents", d, group, value) for d in district_ids])


# -- the report as tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: object  # a lazy translated string
    group: object | None = None  # a heading spanning columns of the same group


@dataclass(frozen=True)
class Row:
    key: str  # a district's code, "city", or a breakdown value
    label: object
    figures: tuple[Figure, ...]
    is_total: bool = False
    note: object | None = None  # e.g. which district's SIG serves it


@dataclass(frozen=True)
class Table:
    id: str
    title: object
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    row_heading: object

    def column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    def figure(self, row_key: str, column_key: str) -> Figure:
        row = next(r for r in self.rows if r.key == row_key)
        return row.figures[self.column(column_key)]

    def header_groups(self) -> list[tuple[object | None, list[Column]]]:
        """Consecutive columns under the same group heading, as (heading, columns)."""
        groups: list[tuple[object | None, list[Column]]] = []
        for column in self.columns:
            if groups and column.group is not None and groups[-1][0] is not None \
                    and str(groups[-1][0]) == str(column.group):
                groups[-1][1].append(column)
            else:
                groups.append((column.group, [column]))
        return groups

    @property
    def has_groups(self) -> bool:
        return any(c.group for c in self.columns)


@dataclass(frozen=True)
class Bar:
    label: object
    figure: Figure
    is_total: bool = False


@dataclass(frozen=True)
class Chart:
    id: str
    title: object
    description: object
    unit: Unit
    bars: tuple[Bar, ...]
    reference: Figure  # the city-wide value, drawn as a line


@dataclass(frozen=True)
class KeyFigure:
    label: object
    figure: Figure
    detail: object | None = None


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: datetime
    scope: District | None
    districts: tuple[District, ...]
    tables: tuple[Table, ...]
    charts: tuple[Chart, ...]
    key_figures: tuple[KeyFigure, ...]

    def table(self, table_id: str) -> Table:
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(table_id)


TABLE_IDS = ("incidents", "relatives", "dispatches", "follow_ups", "practical_help",
             "gender", "age_band", "child", "language")
BREAKDOWN_TITLES = {
    "gender": _l("Relatives by gender"),
    "age_band": _l("Relatives by age band"),
    "child": _l("Children and adults"),
    "language": _l("Relatives by language"),
}
CHILD_LABELS = {"child": _l("Children (under 18)"), "adult": _l("Adults")}


def breakdown_label(dim: str, value: str):
    if dim == "gender":
        return labels.GENDERS.get(value, value)
    if dim == "age_band":
        return labels.AGE_BANDS.get(value, value)
    if dim == "child":
        return CHILD_LABELS[value]
    return labels.LANGUAGES.get(value, value)


def build_report(session: Session, period: Period, *, scope_district_id: int | None = None,
                 now: datetime | None = None) -> Report:
    """Every table, chart and key figure of the report, protected against disclosure."""
    now = now or utcnow()
    districts = tuple(session.scalars(
        select(District).options(selectinload(District.sig_served_by)).order_by(District.name)))
    scope = None
    if scope_district_id is not None:
        scope = next((d for d in districts if d.id == scope_district_id), None)
        if scope is None:
            raise ReportError(f"No district with id {scope_district_id}.", "district_id", "no_district")
    district_ids = [d.id for d in districts]
    facts = collect_facts(session, period, now)
    dims = dimension_values(facts)

    protection = Protection()
    _incident_counts(protection, facts.incidents, district_ids)
    durations = {
        "relatives": _split_measure(protection, "relatives", facts.relatives, district_ids, dims),
        "dispatches": _split_measure(protection, "dispatches", facts.dispatches, district_ids, {}),
        "follow_ups": _split_measure(protection, "follow_ups", facts.follow_ups, district_ids, dims),
        "practical_help": _split_measure(protection, "practical_help", facts.practical_help,
                                         district_ids, {}),
    }
    builder = _TableBuilder(protection, durations, districts)
    tables = [
        builder.incidents(),
        builder.relatives(),
        builder.dispatches(),
        builder.follow_ups(),
        builder.practical_help(),
        *(builder.breakdown(dim, dims[dim], scope) for dim in DIMENSIONS),
    ]
    return Report(
        period=period, generated_at=now, scope=scope, districts=districts, tables=tuple(tables),
        charts=builder.charts(tables), key_figures=builder.key_figures(tables),
    )


class _TableBuilder:
    def __init__(self, protection: Protection, durations: dict, districts: Iterable[District]):
        self.p = protection
        self.durations = durations
        self.districts = tuple(districts)

    # rows: every district, then the city
    def _district_rows(self, cells) -> tuple[Row, ...]:
        rows = []
        for district in self.districts:
            note = None
            if not district.has_own_sig and district.sig_served_by is not None:
                note = _l("SIG from %(district)s", district=district.sig_served_by.name)
            rows.append(Row(district.code, district.name, tuple(cells(district.id)), note=note))
        rows.append(Row("city", _l("Whole city"), tuple(cells(CITY)), is_total=True))
        return tuple(rows)

    def _split(self, measure: str, district, dim=ALL, value=ALL) -> list[Figure]:
        """Total, first status, second status and the first's share."""
        first, second = MEASURE_STATUSES[measure]
        key = (measure, district, dim, value)
        return [
            figures.count(self.p, (*key, ALL)),
            figures.count(self.p, (*key, first)),
            figures.count(self.p, (*key, second)),
            figures.share(self.p, (*key, first), (*key, second)),
        ]

    def _times(self, measure: str, district, dim=ALL, value=ALL, unit=Unit.HOURS) -> list[Figure]:
        values = self.durations[measure].get((district, dim, value), [])
        return [figures.median(values, unit), figures.p90(values, unit)]

    def incidents(self) -> Table:
        columns = [Column("total", _l("Incidents"))]
        columns += [Column(f"type:{t}", labels.INCIDENT_TYPES[t], _l("Type")) for t in INCIDENT_GROUPS["type"]]
        columns += [Column(f"outcome:{o}", labels.OUTCOMES[o], _l("Outcome")) for o in INCIDENT_GROUPS["outcome"]]

        def cells(district):
            yield figures.count(self.p, ("incidents", district, ALL, ALL))
            for group, values in INCIDENT_GROUPS.items():
                for value in values:
                    yield figures.count(self.p, ("incidents", district, group, value))

        return Table("incidents", _l("Incidents by type and outcome"), tuple(columns),
                     self._district_rows(cells), _l("District"))

    RELATIVE_COLUMNS = (
        Column("relatives", _l("Relatives")), Column("reached", _l("Reached, number")),
        Column("not_reached", _l("Not reached yet")), Column("reached_share", _l("Reached, %")),
        Column("first_contact_median", _l("Median, hours"), _l("Time to first contact")),
        Column("first_contact_p90", _l("90th percentile, hours"), _l("Time to first contact")),
    )

    def relatives(self) -> Table:
        def cells(district):
            return [*self._split("relatives", district), *self._times("relatives", district)]

        return Table("relatives", _l("Relatives reached and time to first contact"),
                     self.RELATIVE_COLUMNS, self._district_rows(cells), _l("District"))

    def dispatches(self) -> Table:
        columns = (
            Column("dispatches", _l("Dispatches")), Column("acknowledged", _l("Acknowledged")),
            Column("not_acknowledged", _l("Not acknowledged")),
            Column("ack_median", _l("Median, minutes"), _l("Time to acknowledgement")),
            Column("ack_p90", _l("90th percentile, minutes"), _l("Time to acknowledgement")),
        )

        def cells(district):
            return [*self._split("dispatches", district)[:3],
                    *self._times("dispatches", district, unit=Unit.MINUTES)]

        return Table("dispatches", _l("Dispatch acknowledgement"), columns, self._district_rows(cells),
                     _l("District"))

    FOLLOW_UP_COLUMNS = (
        Column("follow_ups_due", _l("Follow-ups due")), Column("follow_ups_on_time", _l("Kept on time")),
        Column("follow_ups_late", _l("Late or missed")), Column("follow_ups_on_time_share", _l("On time, %")),
    )

    def follow_ups(self) -> Table:
        return Table("follow_ups", _l("Follow-ups kept on time"), self.FOLLOW_UP_COLUMNS,
                     self._district_rows(lambda d: self._split("follow_ups", d)), _l("District"))

    def practical_help(self) -> Table:
        columns = (
            Column("tasks_due", _l("Practical-help tasks due")), Column("tasks_on_time", _l("Done by the deadline")),
            Column("tasks_late", _l("Late or not done")), Column("tasks_on_time_share", _l("By the deadline, %")),
        )
        return Table("practical_help", _l("Practical help done by the deadline"), columns,
                     self._district_rows(lambda d: self._split("practical_help", d)), _l("District"))

    def breakdown(self, dim: str, values: list[str], scope: District | None) -> Table:
        district = scope.id if scope is not None else CITY
        columns = (
            *self.RELATIVE_COLUMNS,
            Column("follow_ups_due", _l("Due in the period"), _l("Follow-ups")),
            *(Column(c.key, c.label, _l("Follow-ups")) for c in self.FOLLOW_UP_COLUMNS[1:]),
        )

        def cells(value_dim, value):
            return (*self._split("relatives", district, value_dim, value),
                    *self._times("relatives", district, value_dim, value),
                    *self._split("follow_ups", district, value_dim, value))

        rows = [Row(value, breakdown_label(dim, value), cells(dim, value)) for value in values]
        total_label = scope.name if scope is not None else _l("Whole city")
        rows.append(Row("total", total_label, cells(ALL, ALL), is_total=True))
        return Table(dim, BREAKDOWN_TITLES[dim], columns, tuple(rows), _l("Group"))

    def charts(self, tables: list[Table]) -> tuple[Chart, ...]:
        by_id = {t.id: t for t in tables}

        def bars(table: Table, column: str) -> tuple[Bar, ...]:
            index = table.column(column)
            return tuple(Bar(r.label, r.figures[index], r.is_total) for r in table.rows)

        relatives, follow_ups = by_id["relatives"], by_id["follow_ups"]
        return (
            Chart("first_contact", _l("Time to first contact, median hours, per district"),
                  _l("Hours from activation to the first contact with each relative; shorter is better. "
                     "The line is the whole city."),
                  Unit.HOURS, bars(relatives, "first_contact_median")[:-1],
                  relatives.figure("city", "first_contact_median")),
            Chart("follow_ups_on_time", _l("Follow-ups kept on time, per district"),
                  _l("Share of due follow-ups where the relative was reached on or before the due date; "
                     "higher is better. The line is the whole city."),
                  Unit.PERCENT, bars(follow_ups, "follow_ups_on_time_share")[:-1],
                  follow_ups.figure("city", "follow_ups_on_time_share")),
        )

    def key_figures(self, tables: list[Table]) -> tuple[KeyFigure, ...]:
        by_id = {t.id: t for t in tables}
        return (
            KeyFigure(_l("Incidents"), by_id["incidents"].figure("city", "total")),
            KeyFigure(_l("Relatives reached"), by_id["relatives"].figure("city", "reached_share")),
            KeyFigure(_l("Median hours to first contact"), by_id["relatives"].figure("city", "first_contact_median")),
            KeyFigure(_l("Follow-ups kept on time"), by_id["follow_ups"].figure("city", "follow_ups_on_time_share")),
            KeyFigure(_l("Median minutes to acknowledge a dispatch"), by_id["dispatches"].figure("city", "ack_median")),
            KeyFigure(_l("Practical help by the deadline"),
                      by_id["practical_help"].figure("city", "tasks_on_time_share")),
        )


# -- push alerts (issue 16) --------------------------------------------------------------------------


@dataclass(frozen=True)
class PushMonth:
    month: date  # the first day of the Stockholm calendar month (or of the period)
    pushed: int
    acknowledged: int
    sms_saved: int


def push_by_month(session: Session, period: Period) -> list[PushMonth]:
    """Alerts that went by push, were acknowledged from the notification, and the SMS that saved:
    one row per Stockholm calendar month of the period (city-wide: alerts go to staff, not districts)."""
    from crisis.push.services import push_figures

    months = []
    first = period.start
    while first <= period.end:
        following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        last = min(following - timedelta(days=1), period.end)
        span = Period(first, last)
        figures_ = push_figures(session, start=span.starts_at, end=span.ends_at)
        months.append(PushMonth(first, figures_.pushed, figures_.acknowledged, figures_.sms_saved))
        first = following
    return months
