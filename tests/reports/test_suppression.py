"""Small counts are suppressed, and so is whatever would give them back by subtraction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisis.followups.models import FollowUp, FollowUpStatus
from crisis.incidents.models import Relative
from crisis.reports import services
from crisis.reports.disclosure import Hidden, Protection
from crisis.reports.figures import Shown


def table_protection(rows: dict[str, list[int]]) -> Protection:
    """A table with row totals, column totals and a grand total, as sums."""
    protection = Protection()
    names = list(rows)
    width = len(next(iter(rows.values())))
    for name, cells in rows.items():
        for j, n in enumerate(cells):
            protection.add((name, j), n)
        protection.add((name, "total"), sum(cells))
        protection.relate((name, "total"), [(name, j) for j in range(width)])
    for j in range(width):
        protection.add(("all", j), sum(rows[n][j] for n in names))
        protection.relate(("all", j), [(n, j) for n in names])
    protection.add(("all", "total"), sum(map(sum, rows.values())))
    protection.relate(("all", "total"), [(n, "total") for n in names])
    protection.relate(("all", "total"), [("all", j) for j in range(width)])
    return protection


def assert_nothing_recoverable(protection: Protection, relations) -> None:
    for whole, parts in relations:
        hidden = [k for k in (whole, *parts) if protection.hidden(k)]
        assert len(hidden) != 1, f"{hidden[0]!r} could be worked out from {whole!r}"


def test_counts_from_one_to_four_are_hidden_and_zero_and_five_are_not():
    protection = Protection()
    for n in range(7):
        protection.add(n, n)
    assert [protection.hidden(n) for n in range(7)] == [None, *[Hidden.SMALL] * 4, None, None]


def test_a_single_small_cell_in_a_row_takes_a_second_one_with_it():
    protection = Protection()
    for key, n in (("a", 3), ("b", 0), ("c", 12), ("d", 20), ("total", 35)):
        protection.add(key, n)
    protection.relate("total", ["a", "b", "c", "d"])
    assert protection.hidden("a") == Hidden.SMALL
    # The smallest non-zero visible cell goes, never the zero (a hidden zero next to
    # "<5" would tell that the small one is the whole difference).
    assert protection.hidden("c") == Hidden.COMPLEMENT
    assert protection.hidden("b") is None
    assert protection.hidden("d") is None and protection.hidden("total") is None


def test_the_total_goes_when_no_other_part_could():
    protection = Protection()
    for key, n in (("x", 7), ("zero", 0), ("one_row", 7), ("small", 2), ("other_row", 9)):
        protection.add(key, n)
    protection.relate("one_row", ["x", "zero"])
    protection.relate("other_row", ["x", "small"])
    assert protection.hidden("x") == Hidden.COMPLEMENT  # protects "small" in other_row
    assert protection.hidden("one_row") == Hidden.COMPLEMENT  # else one_row - 0 = x, then 9 - x = small


def test_complementary_suppression_runs_over_rows_and_columns_until_nothing_is_recoverable():
    rows = {"Alby": [12, 3, 20], "Bergby": [8, 9, 7], "Centrum": [0, 6, 11]}
    protection = table_protection(rows)
    relations = [((n, "total"), [(n, j) for j in range(3)]) for n in rows]
    relations += [(("all", j), [(n, j) for n in rows]) for j in range(3)]
    relations += [(("all", "total"), [(n, "total") for n in rows]),
                  (("all", "total"), [("all", j) for j in range(3)])]
    assert_nothing_recoverable(protection, relations)
    assert protection.hidden(("Alby", 1)) == Hidden.SMALL
    hidden = [k for k in protection._values if protection.hidden(k)]
    assert len(hidden) >= 4  # at least a rectangle: one more in the row, one in the column, one to close it
    assert protection.hidden(("Centrum", 0)) is None  # zeros stay visible
    assert protection.hidden(("all", "total")) is None


def test_the_same_figure_in_two_tables_is_hidden_in_both():
    """A district's total appears in the per-district table and as the total row of its
    breakdown: it is one cell, so hiding it in one hides it in the other."""
    protection = Protection()
    for key, n in (("farsta", 9), ("farsta:women", 7), ("farsta:men", 2), ("kista", 30), ("city", 39)):
        protection.add(key, n)
    protection.relate("farsta", ["farsta:women", "farsta:men"])
    protection.relate("city", ["farsta", "kista"])
    assert protection.hidden("farsta:men") == Hidden.SMALL
    assert protection.hidden("farsta:women") == Hidden.COMPLEMENT
    assert protection.hidden("farsta") is None  # two hidden terms already; the total tells nothing alone


def test_a_relation_that_does_not_add_up_is_a_programming_error():
    protection = Protection()
    protection.add("a", 2)
    protection.add("b", 2)
    protection.add("total", 5)
    with pytest.raises(ValueError):
        protection.relate("total", ["a", "b"])


# -- on the report ------------------------------------------------------------------------


@pytest.fixture
def city_with_small_district(session, city, create_district, create_incident):
    """City (conftest) plus Dalby: one incident, two relatives (one reached), one follow-up."""
    dalby = create_district("dalby", has_own_sig=True, name="Dalby")
    incident = create_incident(district=dalby, activated_at=city.base + timedelta(days=3),
                               occurred_at=city.base + timedelta(days=3, hours=-1))
    reached = Relative(incident_id=incident.id, label="Anhörig 1", relation="sibling", age_band="18-25",
                       gender="man", language="ti", first_contact_at=incident.activated_at + timedelta(hours=3))
    other = Relative(incident_id=incident.id, label="Anhörig 2", relation="parent", age_band="65+",
                     gender="woman", language="ti")
    session.add_all([reached, other])
    session.flush()
    due = city.base + timedelta(days=5)
    session.add(FollowUp(incident_id=incident.id, relative_id=reached.id, key="fu-1", label="1d", due_at=due,
                         status=FollowUpStatus.REACHED, completed_at=due))
    session.commit()
    return city


SPLITS = {
    "relatives": ("relatives", "reached", "not_reached"),
    "dispatches": ("dispatches", "acknowledged", "not_acknowledged"),
    "follow_ups": ("follow_ups_due", "follow_ups_on_time", "follow_ups_late"),
    "practical_help": ("tasks_due", "tasks_on_time", "tasks_late"),
}


def hidden_in(table, row_key, column) -> bool:
    return not table.figure(row_key, column).is_shown


def test_no_suppressed_count_in_the_district_tables_can_be_worked_out(session, city_with_small_district):
    city = city_with_small_district
    report = services.build_report(session, city.period, now=city.now)
    for table_id, (total, first, second) in SPLITS.items():
        table = report.table(table_id)
        keys = [r.key for r in table.rows]
        for key in keys:  # each row: total = first + second
            assert sum(hidden_in(table, key, c) for c in (total, first, second)) != 1, (table_id, key)
        for column in (total, first, second):  # each column: the city = the districts
            assert sum(hidden_in(table, key, column) for key in keys) != 1, (table_id, column)
    incidents = report.table("incidents")
    for row in incidents.rows:
        for group in ("type:", "outcome:"):
            columns = ["total"] + [c.key for c in incidents.columns if c.key.startswith(group)]
            assert sum(hidden_in(incidents, row.key, c) for c in columns) != 1, (row.key, group)


def test_the_small_district_is_suppressed_and_a_complement_with_it(session, city_with_small_district):
    city = city_with_small_district
    report = services.build_report(session, city.period, now=city.now)
    relatives = report.table("relatives")
    assert relatives.figure("dalby", "relatives").shown == Shown.SMALL
    assert relatives.figure("dalby", "reached").shown == Shown.SMALL
    assert relatives.figure("dalby", "reached_share").shown == Shown.FEW_CASES
    assert relatives.figure("dalby", "first_contact_median").shown == Shown.FEW_CASES
    column = [relatives.figure(r.key, "reached").shown for r in relatives.rows]
    assert Shown.COMPLEMENT in column
    assert report.table("incidents").figure("dalby", "total").shown == Shown.SMALL
    # The city's figures stay: 23 relatives, two more than without Dalby.
    assert relatives.figure("city", "relatives").value == 23
    # Tigrinya speakers are two: the language row is suppressed in the city-wide breakdown.
    assert report.table("language").figure("ti", "relatives").shown == Shown.SMALL


def test_suppression_does_not_depend_on_which_district_the_breakdowns_are_for(session, city_with_small_district):
    city = city_with_small_district
    whole = services.build_report(session, city.period, now=city.now)
    for district in city.districts.values():
        scoped = services.build_report(session, city.period, scope_district_id=district.id, now=city.now)
        for table_id in SPLITS:
            assert scoped.table(table_id) == whole.table(table_id)


def test_a_hidden_figure_carries_no_value(session, city_with_small_district):
    city = city_with_small_district
    report = services.build_report(session, city.period, now=city.now)
    figures = [f for t in report.tables for r in t.rows for f in r.figures]
    assert any(not f.is_shown for f in figures)
    assert all(f.value is None for f in figures if not f.is_shown)
    assert all(b.figure.value is None for c in report.charts for b in c.bars if not b.figure.is_shown)
