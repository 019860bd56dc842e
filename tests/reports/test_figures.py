"""Every figure of the report on the hand-built city of conftest.py, whose answers are known."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crisis.reports import services
from crisis.reports.disclosure import Protection
from crisis.reports.figures import Shown, Unit, median, p90, percentile_90, share


def value(report, table: str, row: str, column: str):
    figure = report.table(table).figure(row, column)
    assert figure.is_shown, f"{table}/{row}/{column} is {figure.shown}"
    return figure.value


def shown(report, table: str, row: str, column: str) -> Shown:
    return report.table(table).figure(row, column).shown


@pytest.fixture
def report(session, city):
    return services.build_report(session, city.period, now=city.now)


# -- the statistics themselves ------------------------------------------------------------


def test_percentile_90_interpolates_linearly_between_closest_ranks():
    assert percentile_90(list(range(1, 11))) == pytest.approx(9.1)
    assert percentile_90([2, 4, 6, 8, 10, 48]) == pytest.approx(29.0)
    assert percentile_90([1, 1, 1, 1, 30]) == pytest.approx(18.4)
    assert percentile_90([7]) == 7


def test_median_and_p90_need_five_cases():
    assert median([1, 2, 3, 4], Unit.HOURS).shown == Shown.FEW_CASES
    assert median([1, 2, 3, 4], Unit.HOURS).value is None
    assert median([], Unit.HOURS).shown == Shown.NO_CASES
    assert median([1, 2, 3, 4, 100], Unit.HOURS).value == 3
    assert p90([1, 2, 3, 4, 100], Unit.HOURS).value == pytest.approx(61.6)


def test_a_share_is_hidden_when_either_of_its_counts_is():
    protection = Protection()
    for key, n in (("yes", 38), ("no", 2), ("all", 40)):
        protection.add(key, n)
    protection.relate("all", ["yes", "no"])
    # 95 % of a visible 40 would give the hidden 2 away.
    assert share(protection, "yes", "no").shown == Shown.FEW_CASES
    protection = Protection()
    for key, n in (("yes", 12), ("no", 0), ("all", 12)):
        protection.add(key, n)
    assert share(protection, "yes", "no").value == 100.0


# -- the period ------------------------------------------------------------------------------


def test_period_is_stockholm_calendar_days_both_included():
    period = services.Period(date(2026, 3, 1), date(2026, 3, 31))
    assert period.starts_at.isoformat() == "2026-02-28T23:00:00+00:00"  # CET
    assert period.ends_at.isoformat() == "2026-03-31T22:00:00+00:00"  # CEST from 29 March
    assert period.days == 31


def test_period_parsing_refuses_what_it_cannot_use():
    today = date(2026, 11, 24)
    assert services.Period.parse(None, None, today=today) == services.Period(date(2025, 11, 25), today)
    assert services.Period.parse("2026-01-01", None, today=today).end == today
    assert services.Period.parse(None, "2025-06-30", today=today) == services.Period(date(2024, 7, 1),
                                                                                     date(2025, 6, 30))
    for start, end, reason in (("2026-13-01", None, "bad_date"), ("2026-05-01", "2026-04-01", "end_before_start"),
                               ("1999-12-31", None, "too_early"), ("2000-01-01", "2026-01-01", "too_long")):
        with pytest.raises(services.ReportError) as caught:
            services.Period.parse(start, end, today=today)
        assert caught.value.reason == reason


# -- the report on the hand-built city ------------------------------------------------------------


def test_incidents_by_type_and_outcome(report):
    assert value(report, "incidents", "alby", "total") == 10
    assert value(report, "incidents", "alby", "type:shooting") == 5
    assert value(report, "incidents", "alby", "type:lethal_violence") == 5
    assert value(report, "incidents", "alby", "outcome:deceased") == 5
    assert value(report, "incidents", "bergby", "type:shooting") == 5
    assert value(report, "incidents", "bergby", "outcome:injured") == 5
    assert value(report, "incidents", "centrum", "total") == 0
    assert value(report, "incidents", "city", "total") == 15  # the incident the day before is outside
    assert value(report, "incidents", "city", "type:shooting") == 10
    assert value(report, "incidents", "city", "type:threat_against_relatives") == 0
    assert value(report, "incidents", "city", "outcome:injured") == 10


def test_relatives_reached_and_time_to_first_contact(report):
    assert value(report, "relatives", "alby", "relatives") == 15
    assert value(report, "relatives", "alby", "reached") == 10
    assert value(report, "relatives", "alby", "not_reached") == 5
    assert value(report, "relatives", "alby", "reached_share") == 66.7
    assert value(report, "relatives", "alby", "first_contact_median") == 5.5
    assert value(report, "relatives", "alby", "first_contact_p90") == 9.1
    assert value(report, "relatives", "bergby", "reached_share") == 100.0
    assert value(report, "relatives", "bergby", "first_contact_median") == 7.0
    assert value(report, "relatives", "bergby", "first_contact_p90") == 29.0
    assert value(report, "relatives", "city", "relatives") == 21
    assert value(report, "relatives", "city", "reached_share") == 76.2
    assert value(report, "relatives", "city", "first_contact_median") == 6.0
    assert value(report, "relatives", "city", "first_contact_p90") == 10.0
    assert shown(report, "relatives", "centrum", "first_contact_median") == Shown.NO_CASES


def test_dispatch_acknowledgement_time(report):
    assert value(report, "dispatches", "alby", "dispatches") == 6  # the cancelled, unanswered one is left out
    assert value(report, "dispatches", "alby", "ack_median") == 7.0
    assert value(report, "dispatches", "alby", "ack_p90") == 11.0
    assert value(report, "dispatches", "bergby", "not_acknowledged") == 5
    assert value(report, "dispatches", "bergby", "ack_median") == 1.0
    assert value(report, "dispatches", "bergby", "ack_p90") == 18.4
    assert value(report, "dispatches", "city", "dispatches") == 16
    assert value(report, "dispatches", "city", "acknowledged") == 11
    assert value(report, "dispatches", "city", "ack_median") == 4.0
    assert value(report, "dispatches", "city", "ack_p90") == 12.0


def test_follow_ups_kept_on_time_by_the_stockholm_due_day(report):
    assert value(report, "follow_ups", "alby", "follow_ups_due") == 12
    assert value(report, "follow_ups", "alby", "follow_ups_on_time") == 7
    assert value(report, "follow_ups", "alby", "follow_ups_late") == 5
    assert value(report, "follow_ups", "alby", "follow_ups_on_time_share") == 58.3
    assert value(report, "follow_ups", "bergby", "follow_ups_on_time_share") == 100.0
    assert value(report, "follow_ups", "city", "follow_ups_due") == 17
    assert value(report, "follow_ups", "city", "follow_ups_on_time_share") == 70.6


def test_follow_ups_not_yet_due_are_not_counted(session, city):
    """Made on the day after the first due date, only Alby's ten due that day count (A's two
    later ones and Bergby's are not due yet)."""
    due_day_after = city.base + timedelta(days=11)
    report = services.build_report(session, city.period, now=due_day_after)
    assert value(report, "follow_ups", "alby", "follow_ups_due") == 10
    assert value(report, "follow_ups", "city", "follow_ups_due") == 10


def test_practical_help_done_by_the_deadline(report):
    assert value(report, "practical_help", "alby", "tasks_due") == 10
    assert value(report, "practical_help", "alby", "tasks_on_time") == 5
    assert value(report, "practical_help", "alby", "tasks_on_time_share") == 50.0
    assert value(report, "practical_help", "bergby", "tasks_due") == 0
    assert shown(report, "practical_help", "bergby", "tasks_on_time_share") == Shown.NO_CASES


def test_breakdown_by_gender_city_wide(report):
    assert value(report, "gender", "woman", "relatives") == 16
    assert value(report, "gender", "woman", "reached_share") == 100.0
    assert value(report, "gender", "woman", "first_contact_median") == 6.0
    assert value(report, "gender", "woman", "first_contact_p90") == 10.0
    assert value(report, "gender", "woman", "follow_ups_on_time") == 12
    assert value(report, "gender", "man", "relatives") == 5
    assert value(report, "gender", "man", "reached_share") == 0.0
    assert shown(report, "gender", "man", "first_contact_median") == Shown.NO_CASES
    assert value(report, "gender", "other", "relatives") == 0
    assert value(report, "gender", "total", "relatives") == 21


def test_breakdowns_by_age_band_child_and_language(report):
    assert value(report, "age_band", "26-64", "relatives") == 21
    assert value(report, "age_band", "0-12", "relatives") == 0
    assert value(report, "child", "adult", "reached") == 16
    assert value(report, "child", "child", "relatives") == 0
    assert [row.key for row in report.table("language").rows] == ["sv", "total"]
    assert value(report, "language", "sv", "follow_ups_due") == 17


def test_breakdowns_for_one_district(session, city):
    report = services.build_report(session, city.period, scope_district_id=city.districts["a"].id, now=city.now)
    assert report.scope.code == "alby"
    assert value(report, "gender", "woman", "relatives") == 10
    assert value(report, "gender", "woman", "first_contact_median") == 5.5
    assert value(report, "gender", "man", "not_reached") == 5
    assert value(report, "gender", "total", "follow_ups_on_time_share") == 58.3
    assert str(report.table("gender").rows[-1].label) == "Alby"


def test_district_rows_say_whose_sig_serves_them(report):
    bergby = next(r for r in report.table("relatives").rows if r.key == "bergby")
    assert "Alby" in str(bergby.note)


def test_charts_compare_districts_with_the_city(report):
    first_contact, follow_ups = report.charts
    assert [str(b.label) for b in first_contact.bars] == ["Alby", "Bergby", "Centrum"]
    assert [b.figure.value for b in first_contact.bars] == [5.5, 7.0, None]
    assert first_contact.reference.value == 6.0
    assert [b.figure.value for b in follow_ups.bars][:2] == [58.3, 100.0]
    assert follow_ups.reference.value == 70.6


def test_an_unknown_district_is_refused(session, city):
    with pytest.raises(services.ReportError):
        services.build_report(session, city.period, scope_district_id=999_999, now=city.now)
