"""Working days in Sweden: follow-ups planned on a weekend or a public holiday
move to the next working day (issue 7), using the maintained `holidays` package.

Midsommarafton, julafton and nyårsafton are not public holidays in law but
de facto days off in social services; they count as days off here too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@lru_cache(maxsize=32)
def _days_off(year: int) -> frozenset[date]:
    # Sweden's calendar lists every Sunday as a holiday; weekends are handled
    # separately below, so ask without them.
    public = holidays.country_holidays("SE", years=year, include_sundays=False)
    midsummer_day = next(day for day, name in public.items() if name == "Midsummer Day")
    eves = {midsummer_day - timedelta(days=1), date(year, 12, 24), date(year, 12, 31)}
    return frozenset(public) | eves


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _days_off(day.year)


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def next_working_moment(moment: datetime) -> datetime:
    """The same local time of day on the next working day in Stockholm (or `moment` itself)."""
    local = moment.astimezone(STOCKHOLM)
    day = next_working_day(local.date())
    if day == local.date():
        return moment
    shifted = datetime.combine(day, local.timetz().replace(tzinfo=None), STOCKHOLM)
    return shifted.astimezone(moment.tzinfo)
