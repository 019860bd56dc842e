import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisis.playbooks.durations import (
    CALENDAR_ZONE,
    DURATION_PATTERN,
    Duration,
    DurationError,
    parse_duration,
)
from crisis.playbooks.loader import SCHEMA

UNITS = ("m", "h", "d", "w", "mo", "y")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Duration(30, "m")),
        ("2h", Duration(2, "h")),
        ("24h", Duration(24, "h")),
        ("1d", Duration(1, "d")),
        ("3d", Duration(3, "d")),
        ("1w", Duration(1, "w")),
        ("2w", Duration(2, "w")),
        ("1mo", Duration(1, "mo")),
        ("3mo", Duration(3, "mo")),
        ("12mo", Duration(12, "mo")),
        ("1y", Duration(1, "y")),
        ("3 months", Duration(3, "mo")),
        ("1 year", Duration(1, "y")),
        ("10 minutes", Duration(10, "m")),
        ("1 month", Duration(1, "mo")),
        ("3 månader", Duration(3, "mo")),
        ("1 år", Duration(1, "y")),
        ("2 veckor", Duration(2, "w")),
        ("24 timmar", Duration(24, "h")),
        ("0m", Duration(0, "m")),
    ],
)
def test_parses_short_and_spelled_forms(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"), [("3 months", "3mo"), ("10 minutes", "10m"), ("1 år", "1y")]
)
def test_str_is_the_canonical_short_form(text, canonical):
    assert str(parse_duration(text)) == canonical


@given(st.integers(0, 999), st.sampled_from(UNITS))
def test_str_round_trips(amount, unit):
    duration = Duration(amount, unit)
    assert parse_duration(str(duration)) == duration


@pytest.mark.parametrize(
    "text", ["3 mnths", "1M", "-1d", "1.5h", "d", "", "1000d", "1 fortnight", "3mo later"]
)
def test_rejects_other_text_and_says_what_is_accepted(text):
    with pytest.raises(DurationError) as error:
        parse_duration(text)
    assert repr(text) in str(error.value)
    assert "30m, 2h, 1d, 1w, 3mo, 1y" in str(error.value)
    assert "'3 months'" in str(error.value)


def test_rejects_a_number_that_is_not_text():
    with pytest.raises(DurationError, match="write it as text"):
        parse_duration(24)


def test_schema_uses_the_parsers_pattern():
    assert SCHEMA["$defs"]["duration"]["pattern"] == DURATION_PATTERN


@given(st.text(alphabet="0123456789 mohdwyårinutesäkvcl", max_size=12))
def test_schema_pattern_and_parser_accept_the_same_text(text):
    # jsonschema matches patterns with re.search, as the parser does.
    accepted_by_schema = re.search(DURATION_PATTERN, text) is not None
    try:
        parse_duration(text)
    except DurationError:
        assert not accepted_by_schema
    else:
        assert accepted_by_schema


def test_months_are_calendar_months_ending_at_month_end():
    death = datetime(2026, 1, 31, 12, 0, tzinfo=CALENDAR_ZONE)
    assert parse_duration("1mo").after(death) == datetime(2026, 2, 28, 12, 0, tzinfo=CALENDAR_ZONE)
    assert parse_duration("3mo").after(death) == datetime(2026, 4, 30, 12, 0, tzinfo=CALENDAR_ZONE)


def test_a_day_keeps_the_stockholm_clock_time_across_summer_time():
    # Summer time began 2026-03-29 02:00 in Stockholm: that day has 23 hours.
    before = datetime(2026, 3, 28, 14, 0, tzinfo=CALENDAR_ZONE)
    after = parse_duration("1d").after(before.astimezone(UTC))
    assert after.astimezone(CALENDAR_ZONE).replace(tzinfo=None) == datetime(2026, 3, 29, 14, 0)
    assert after - before == timedelta(hours=23)


def test_hours_are_elapsed_time_across_summer_time():
    before = datetime(2026, 3, 29, 1, 0, tzinfo=CALENDAR_ZONE)
    assert parse_duration("2h").after(before) - before == timedelta(hours=2)


def test_after_keeps_the_time_zone_it_was_given():
    moment = datetime(2026, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_duration("1w").after(moment).utcoffset() == timedelta(hours=2)


def test_after_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        parse_duration("1d").after(datetime(2026, 1, 1))


def test_nominal_length_orders_units():
    assert parse_duration("3d").nominal_length < parse_duration("1w").nominal_length
    assert parse_duration("1mo").nominal_length < parse_duration("6w").nominal_length
    assert parse_duration("12mo").nominal_length < parse_duration("1y").nominal_length


def test_duration_refuses_unknown_units():
    with pytest.raises(DurationError):
        Duration(1, "fortnight")
