"""The incident timeline page is paged (issue 15): pages that together hold every entry in order,
the kinds filter kept across pages, a line saying which are shown, and exports that stay whole."""

from __future__ import annotations

import csv
import io
import re

from crisis.casefile import routes
from crisis.core.db import db
from crisis.timeline.services import record_event
from tests.casefile.test_timeline_page import entry_summaries, timeline
from tests.statements import counting_statements


def _all_pages(client, case, **query) -> list[str]:
    summaries: list[str] = []
    page = 1
    while True:
        html = timeline(client, case, page=page, **query).get_data(as_text=True)
        summaries += entry_summaries(html)
        if 'rel="next"' not in html:
            return summaries
        page += 1


def test_the_pages_together_hold_every_entry_in_the_order_of_one_long_page(client, logged_in, case, monkeypatch):
    logged_in("manager")
    whole = entry_summaries(timeline(client, case).get_data(as_text=True))
    assert len(whole) > 7
    monkeypatch.setattr(routes, "TIMELINE_PAGE_SIZE", 3)
    first = timeline(client, case).get_data(as_text=True)
    assert len(entry_summaries(first)) == 3
    assert f"Visar händelse 1–3 av {len(whole)}." in first
    assert f"Sida 1 av {-(-len(whole) // 3)}" in first
    second = timeline(client, case, page=2).get_data(as_text=True)
    assert f"Visar händelse 4–6 av {len(whole)}." in second and "Tidigare" in second
    assert _all_pages(client, case) == whole  # access entries still merged in by time, across pages


def test_the_kinds_filter_is_kept_on_the_next_and_previous_links(client, logged_in, case, monkeypatch):
    logged_in("manager")
    kinds = ["incident", "relative"]
    chosen = entry_summaries(timeline(client, case, kind=kinds).get_data(as_text=True))
    whole = entry_summaries(timeline(client, case).get_data(as_text=True))
    assert 2 < len(chosen) < len(whole)
    monkeypatch.setattr(routes, "TIMELINE_PAGE_SIZE", 2)
    html = timeline(client, case, kind=kinds).get_data(as_text=True)
    next_link = re.search(r'href="([^"]*)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "kind=incident" in next_link and "kind=relative" in next_link and "page=2" in next_link
    second = client.get(next_link).get_data(as_text=True)
    assert f"Visar händelse 3–4 av {len(chosen)}." in second
    prev_link = re.search(r'href="([^"]*)" rel="prev"', second).group(1).replace("&amp;", "&")
    assert "kind=incident" in prev_link and "kind=relative" in prev_link and "page=1" in prev_link
    assert _all_pages(client, case, kind=kinds) == chosen


def test_a_page_past_the_end_shows_the_last_page(client, logged_in, case, monkeypatch):
    logged_in("manager")
    monkeypatch.setattr(routes, "TIMELINE_PAGE_SIZE", 3)
    html = timeline(client, case, page=999).get_data(as_text=True)
    assert entry_summaries(html) and 'rel="next"' not in html and 'rel="prev"' in html
    assert timeline(client, case, page="x").status_code == 200


def test_the_flagged_opening_is_reported_on_every_page(client, logged_in, case, monkeypatch):
    logged_in("manager")
    monkeypatch.setattr(routes, "TIMELINE_PAGE_SIZE", 1)
    for page in (1, 2):
        assert "1 öppning av en akt av personal som inte var tilldelad insatsen" in timeline(
            client, case, page=page).get_data(as_text=True)


def test_the_exports_stay_whole_when_the_page_is_paged(client, logged_in, case, monkeypatch):
    logged_in("manager")
    whole = entry_summaries(timeline(client, case).get_data(as_text=True))
    monkeypatch.setattr(routes, "TIMELINE_PAGE_SIZE", 2)
    rows = list(csv.reader(io.StringIO(client.get(f"/incidents/{case.incident.id}/timeline.csv")
                                       .get_data(as_text=True))))
    assert len(rows) == len(whole) + 1  # the header, and every entry


def test_a_long_timeline_page_costs_what_a_short_one_costs(client, session, logged_in, case):
    logged_in("manager")
    timeline(client, case)  # warm
    with counting_statements(db.engine) as few:
        short = timeline(client, case)
    for i in range(routes.TIMELINE_PAGE_SIZE + 20):
        record_event(session, kind="incident", type="incident.note", actor=case.coordinator,
                     incident_id=case.incident.id, summary=f"Note {i}", data={})
    session.commit()
    with counting_statements(db.engine) as many:
        long = timeline(client, case)
    assert short.status_code == long.status_code == 200
    assert len(entry_summaries(long.get_data(as_text=True))) == routes.TIMELINE_PAGE_SIZE
    assert few.count == many.count, (few.describe(), many.describe())


def test_a_page_naming_many_relatives_and_staff_costs_what_one_naming_few_costs(client, session, logged_in, case,
                                                                                create_user):
    """The relatives, staff and teams a page's events name are looked up together (one statement
    for each kind, crisis.eventtext.render.Names.prefetch), not one statement for each of them."""
    from crisis.incidents.services import add_relative

    logged_in("manager")
    timeline(client, case)  # warm
    with counting_statements(db.engine) as few:
        timeline(client, case)
    for n in range(4):
        add_relative(session, case.incident, actor=case.coordinator, relation="sibling")
        worker = create_user("outreach", name=f"Nyanställd {n}")
        record_event(session, kind="dispatch", type="dispatch.created", actor=case.coordinator,
                     incident_id=case.incident.id, summary=f"Dispatch {n}",
                     data={"purpose": "visit", "user_id": worker.id, "alerted": [worker.id], "no_sms": {}})
    session.commit()
    timeline(client, case)  # warm (and a session of its own, as every request has)
    with counting_statements(db.engine) as many:
        page = timeline(client, case).get_data(as_text=True)
    assert all(f"Nyanställd {n}" in page for n in range(4))
    assert few.count == many.count, (few.describe(), many.describe())
