"""Working days in Stockholm: not a Saturday, a Sunday or a Swedish public holiday.

The holidays come from the maintained `holidays` package: the public holidays
of Lag (1989:253) om allmänna helgdagar, plus midsommarafton, julafton and
nyårsafton (the package's "de_facto" category). The law does not list those
three, but the city's offices are closed on them and nobody would be there to
make a planned follow-up call.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

STOCKHOLM = ZoneInfo("Europe/Stockholm")
_CATEGORIES = ("public", "de_facto")
# Far more than any gap between two working days (the longest is about five
# days around Christmas/New Year or Easter); a guard against a broken calendar.
_MAX_DAYS_AHEAD = 31


@lru_cache(maxsize=32)
def _holidays_in(year: int) -> dict[date, str]:
    calendar = holiday_calendars.country_holidays(
        "SE", years=year, categories=_CATEGORIES, language="sv"
    )
    return dict(calendar.items())


def holiday_name(day: date) -> str | None:
    """The Swedish name of the public holiday on `day` ("Juldagen"), or None."""
    return _holidays_in(day.year).get(day)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and holiday_name(day) is None


def next_working_day(day: date) -> date:
    """`day` itself if it is a working day, otherwise the first working day after it."""
    for offset in range(_MAX_DAYS_AHEAD):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate):
            return candidate
    raise RuntimeError(f"no working day within {_MAX_DAYS_AHEAD} days of {day.isoformat()}")


def working_day_after(day: date) -> date:
    """The first working day after `day` (Friday -> Monday; 23 December -> 28 December 2026)."""
    return next_working_day(day + timedelta(days=1))


def local_date(moment: datetime) -> date:
    return moment.astimezone(STOCKHOLM).date()


def at_local_time_on(day: date, like: datetime) -> datetime:
    """`day` at the Stockholm wall-clock time of `like`, as an aware UTC datetime."""
    wall = like.astimezone(STOCKHOLM).time().replace(tzinfo=None)
    return datetime.combine(day, wall, tzinfo=STOCKHOLM).astimezone(UTC)


def next_working_moment(moment: datetime) -> datetime:
    """`moment` if it falls on a working day in Stockholm; otherwise the same
    wall-clock time on the next working day.

    Summer time starts and ends on Sundays, which are never working days, so
    the wall-clock time always exists on the day it is moved to.
    """
    if moment.tzinfo is None:
        raise ValueError("next_working_moment needs an aware datetime")
    day = local_date(moment)
    if is_working_day(day):
        return moment
    return at_local_time_on(next_working_day(day), moment).astimezone(moment.tzinfo)

