"""How long after an anchor (activation, death, judgment ...) a deadline falls.

Playbook authors write short forms (``30m``, ``24h``, ``3d``, ``2w``, ``3mo``, ``1y``)
or spell the unit out in English or Swedish (``10 minutes``, ``3 months``,
``1 year``, ``3 månader``, ``1 år``). ``m`` is minutes and ``mo`` is months.

Minutes and hours are elapsed time. Days and longer are calendar time in
Stockholm: "1d" after 14:00 is 14:00 the next day even across a change to or
from summer time, and "1mo" after 31 January is the last day of February
(the funeral deadline in Begravningslagen is "one month after the death", not
30 days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

CALENDAR_ZONE = ZoneInfo("Europe/Stockholm")

# Canonical symbol -> (relativedelta keyword, every spelling accepted for it).
_UNITS: dict[str, tuple[str, tuple[str, ...]]] = {
    "m": ("minutes", ("m", "min", "minute", "minutes", "minut", "minuter")),
    "h": ("hours", ("h", "hour", "hours", "timme", "timmar")),
    "d": ("days", ("d", "day", "days", "dag", "dagar")),
    "w": ("weeks", ("w", "week", "weeks", "vecka", "veckor")),
    "mo": ("months", ("mo", "month", "months", "månad", "månader")),
    "y": ("years", ("y", "year", "years", "år")),
}
_SYMBOL_OF_SPELLING = {
    spelling: symbol for symbol, (_, spellings) in _UNITS.items() for spelling in spellings
}
_ELAPSED_UNITS = {"m", "h"}

# The same expression is the `duration` pattern in schema.json (a test keeps
# them equal), so the schema and this parser accept exactly the same text.
DURATION_PATTERN = (
    "^([0-9]{1,3}) *(" + "|".join(sorted(_SYMBOL_OF_SPELLING, key=lambda s: (-len(s), s))) + ")$"
)
_DURATION_RE = re.compile(DURATION_PATTERN)

ACCEPTED_FORMS = (
    "a whole number from 0 to 999 and a unit: 30m, 2h, 1d, 1w, 3mo, 1y "
    "(m is minutes, mo is months), or spelled out like '10 minutes', '3 months', "
    "'1 year', '3 månader'"
)

# Lengths used only to compare durations of different units (is "3d" within
# an acute window of "1w"?); deadlines themselves use calendar arithmetic.
_NOMINAL_LENGTH = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "mo": timedelta(days=30),
    "y": timedelta(days=365),
}


class DurationError(ValueError):
    """Text that is not a duration; the message says which forms are accepted."""


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # canonical symbol: m, h, d, w, mo or y

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise DurationError(
                f"unknown duration unit {self.unit!r}; use one of {', '.join(_UNITS)}"
            )
        if self.amount < 0:
            raise DurationError(f"a duration cannot be negative ({self.amount})")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def nominal_length(self) -> timedelta:
        """Approximate length (a month is 30 days, a year 365) for comparisons only."""
        return self.amount * _NOMINAL_LENGTH[self.unit]

    def after(self, moment: datetime) -> datetime:
        """The moment this duration after `moment`, in `moment`'s time zone."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"deadlines need an aware datetime, got naive {moment.isoformat()}")
        keyword = _UNITS[self.unit][0]
        if self.unit in _ELAPSED_UNITS:
            return moment + timedelta(**{keyword: self.amount})
        local = moment.astimezone(CALENDAR_ZONE) + relativedelta(**{keyword: self.amount})
        return local.astimezone(moment.tzinfo)


def parse_duration(text: str) -> Duration:
    """Parse a playbook duration such as ``24h``, ``3mo`` or ``3 months``."""
    if not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration; write it as text: {ACCEPTED_FORMS}")
    return _parse(text)


@lru_cache(maxsize=1024)
def _parse(text: str) -> Duration:
    # A playbook holds a few dozen distinct durations and every plan reads each of them
    # (an activation plans four times): parsed once per text.
    match = _DURATION_RE.search(text)
    if match is None:
        raise DurationError(f"{text!r} is not a duration; write {ACCEPTED_FORMS}")
    amount, spelling = match.groups()
    return Duration(int(amount), _SYMBOL_OF_SPELLING[spelling])
