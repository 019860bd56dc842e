"""Statistical disclosure control for the reports: no figure may point at a person.

The relatives in these reports are few (a handful per district and month)
and in a very sensitive situation, so a count of 1–4 could identify
someone ("the one child relative in Farsta in March"). Two rules:

1. **Primary suppression.** A count from 1 to 4 is shown as "<5". A zero is
   shown: it describes nobody.
2. **Complementary suppression.** Every table is a set of sums (the cells
   of a row add up to the row total, the districts add up to the city).
   If exactly one term of such a sum were hidden, subtracting the visible
   terms from the total would give it back. So whenever a sum has exactly
   one hidden term, a second one is hidden too: the smallest non-zero
   visible part (information loss is smallest there), or the total when no
   part is left. Hiding a zero would not help (a hidden complementary cell
   is known to be 0 or at least 5, so a hidden zero next to a "<5" gives
   the small value away), so zeros are never chosen. The rule repeats until
   no sum has a single hidden term, across all tables at once: a figure
   that appears in two tables (a district's total relatives, say) is the
   same cell, hidden in both or in neither.

Derived figures (percentages, medians, percentiles) follow their counts: a
percentage is shown only when both the part and the rest are visible (a
visible percentage and total would otherwise reveal a hidden count), and a
median or percentile only when it is computed from at least 5 cases.

What this does not protect against: comparing reports of overlapping periods
(January–February minus January is February). Reports are therefore for
managers and admins only; figures that leave the organisation should use
whole, non-overlapping periods.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

THRESHOLD = 5  # counts below this (except 0) are never shown


class Hidden(enum.StrEnum):
    SMALL = "small"  # a count from 1 to THRESHOLD - 1
    COMPLEMENT = "complement"  # hidden so that a small count cannot be worked out from the totals


@dataclass(frozen=True)
class Relation:
    """`whole` is the sum of `parts`."""

    whole: Hashable
    parts: tuple[Hashable, ...]


class Protection:
    """Counts keyed by what they count, the sums that tie them, and which must be hidden."""

    def __init__(self) -> None:
        self._values: dict[Hashable, int] = {}
        self._order: dict[Hashable, int] = {}
        self._relations: list[Relation] = []
        self._hidden: dict[Hashable, Hidden] | None = None

    def add(self, key: Hashable, value: int) -> None:
        if value < 0:
            raise ValueError(f"a count cannot be negative ({key!r}: {value})")
        if key in self._values and self._values[key] != value:
            raise ValueError(f"{key!r} counted twice with different values ({self._values[key]}, {value})")
        self._values[key] = value
        self._order.setdefault(key, len(self._order))
        self._hidden = None

    def relate(self, whole: Hashable, parts: Iterable[Hashable]) -> None:
        parts = tuple(parts)
        if not parts:
            return
        missing = [k for k in (whole, *parts) if k not in self._values]
        if missing:
            raise KeyError(f"relation over counts never added: {missing!r}")
        total = sum(self._values[p] for p in parts)
        if total != self._values[whole]:
            raise ValueError(f"{whole!r} is {self._values[whole]} but its parts add up to {total}")
        self._relations.append(Relation(whole, parts))
        self._hidden = None

    def value(self, key: Hashable) -> int:
        return self._values[key]

    def hidden(self, key: Hashable) -> Hidden | None:
        if self._hidden is None:
            self._hidden = self._protect()
        return self._hidden.get(key)

    def _protect(self) -> dict[Hashable, Hidden]:
        hidden = {key: Hidden.SMALL for key, value in self._values.items() if 0 < value < THRESHOLD}
        changed = True
        while changed:
            changed = False
            for relation in self._relations:
                terms = (*relation.parts, relation.whole)
                if sum(term in hidden for term in terms) != 1:
                    continue
                pick = self._complement_for(relation, hidden)
                if pick is not None:
                    hidden[pick] = Hidden.COMPLEMENT
                    changed = True
        return hidden

    def _complement_for(self, relation: Relation, hidden: dict) -> Hashable | None:
        candidates = [p for p in relation.parts if p not in hidden and self._values[p] > 0]
        if candidates:
            return min(candidates, key=lambda k: (self._values[k], self._order[k]))
        if relation.whole not in hidden and self._values[relation.whole] > 0:
            return relation.whole
        return None  # every other term is zero: the hidden term is zero too, nothing to protect
