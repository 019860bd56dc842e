"""One figure of a report: a count, a share or a duration, or why it is not shown.

A hidden figure carries no value at all, so nothing downstream (a template,
a chart, the CSV or the JSON) can leak it by accident.
"""

from __future__ import annotations

import enum
import statistics
from dataclasses import dataclass

from crisis.reports.disclosure import THRESHOLD, Hidden, Protection


class Shown(enum.StrEnum):
    VALUE = "shown"
    SMALL = "small"  # a count of 1–4: "<5"
    COMPLEMENT = "complement"  # hidden so that a small count cannot be worked out: ".."
    FEW_CASES = "few_cases"  # a share or duration from fewer than 5 cases, or from a hidden count: ".."
    NO_CASES = "no_cases"  # nothing to compute from: "–"


class Unit(enum.StrEnum):
    COUNT = "count"
    PERCENT = "percent"
    HOURS = "hours"
    MINUTES = "minutes"


@dataclass(frozen=True)
class Figure:
    unit: Unit
    value: float | int | None
    shown: Shown

    @property
    def is_shown(self) -> bool:
        return self.shown == Shown.VALUE

    def as_json(self) -> dict:
        return {"value": self.value, "unit": self.unit.value,
                "suppressed": None if self.is_shown else self.shown.value}


def count(protection: Protection, key) -> Figure:
    hidden = protection.hidden(key)
    if hidden == Hidden.SMALL:
        return Figure(Unit.COUNT, None, Shown.SMALL)
    if hidden == Hidden.COMPLEMENT:
        return Figure(Unit.COUNT, None, Shown.COMPLEMENT)
    return Figure(Unit.COUNT, protection.value(key), Shown.VALUE)


def share(protection: Protection, part_key, rest_key) -> Figure:
    """part / (part + rest) in percent, shown only when neither count is hidden."""
    part, rest = protection.value(part_key), protection.value(rest_key)
    if part + rest == 0:
        return Figure(Unit.PERCENT, None, Shown.NO_CASES)
    if protection.hidden(part_key) or protection.hidden(rest_key) or part + rest < THRESHOLD:
        return Figure(Unit.PERCENT, None, Shown.FEW_CASES)
    return Figure(Unit.PERCENT, round(100 * part / (part + rest), 1), Shown.VALUE)


def median(values: list[float], unit: Unit) -> Figure:
    return _statistic(values, unit, statistics.median)


def p90(values: list[float], unit: Unit) -> Figure:
    return _statistic(values, unit, percentile_90)


def percentile_90(values: list[float]) -> float:
    """The 90th percentile with linear interpolation between closest ranks
    (Excel PERCENTILE.INC, R type 7): the value below which 90 % of cases fall."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=10, method="inclusive")[8]


def _statistic(values: list[float], unit: Unit, compute) -> Figure:
    if not values:
        return Figure(unit, None, Shown.NO_CASES)
    if len(values) < THRESHOLD:
        return Figure(unit, None, Shown.FEW_CASES)
    return Figure(unit, round(compute(values), 1), Shown.VALUE)


# -- how a figure reads -------------------------------------------------------------------

MARKERS = {Shown.SMALL: "<5", Shown.COMPLEMENT: "..", Shown.FEW_CASES: "..", Shown.NO_CASES: "–"}
UNIT_SUFFIX = {Unit.COUNT: "", Unit.PERCENT: " %", Unit.HOURS: " h", Unit.MINUTES: " min"}


def display(figure: Figure, *, with_unit: bool = False) -> str:
    """The figure as text in the user's locale ("12", "85,5 %", "<5", "..", "–")."""
    from flask_babel import format_decimal

    if not figure.is_shown:
        return MARKERS[figure.shown]
    if figure.unit == Unit.COUNT:
        text = format_decimal(figure.value, format="#,##0")
    else:
        text = format_decimal(figure.value, format="#,##0.0")
    if with_unit or figure.unit == Unit.PERCENT:
        text += UNIT_SUFFIX[figure.unit]
    return text
