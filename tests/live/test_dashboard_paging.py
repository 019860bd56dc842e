"""The dashboard at many incidents: most urgent first, a page at a time, a fixed cost per page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from crisis.core.db import db
from crisis.dispatch.models import Dispatch, DispatchStatus
from crisis.live.dashboard import PAGE_SIZE
from crisis.tasks.models import Task
from tests.statements import counting_statements

NOW = datetime.now(UTC)


def _many_incidents(session, create_incident, create_district, n: int) -> list:
    district = create_district()
    return [create_incident(district=district, status="active",
                            activated_at=NOW - timedelta(hours=n - k)) for k in range(n)]


def _card_ids(html: str) -> list[int]:
    import re

    return [int(i) for i in re.findall(r'data-incident-id="(\d+)"', html)]


def test_unacknowledged_alerts_come_first_then_overdue_tasks_then_the_newest(
        session, client, logged_in, create_incident, create_district):
    boss = logged_in("coordinator")
    oldest, older, newest = _many_incidents(session, create_incident, create_district, 3)
    session.execute(insert(Task), [{"incident_id": older.id, "title": {"sv": "Ring", "en": "Call"},
                                    "category": "outreach", "status": "open", "due_at": NOW - timedelta(hours=1),
                                    "version": 1}])
    session.execute(insert(Dispatch), [{"incident_id": oldest.id, "purpose": "incident",
                                        "status": DispatchStatus.PENDING, "escalation_level": 0, "user_id": boss.id,
                                        "created_at": NOW}])
    session.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert _card_ids(html) == [oldest.id, older.id, newest.id]
    api = client.get("/api/v1/dashboard").json
    assert [c["id"] for c in api["incidents"]] == [oldest.id, older.id, newest.id]


def test_a_dashboard_of_many_incidents_is_paged_and_costs_what_a_short_one_costs(
        session, client, logged_in, create_incident, create_district):
    logged_in("coordinator")
    _many_incidents(session, create_incident, create_district, 3)
    client.get("/dashboard")  # warm: the first request of a session loads what every page needs
    with counting_statements(db.engine) as few:
        small = client.get("/dashboard")
    _many_incidents(session, create_incident, create_district, PAGE_SIZE + 10)
    with counting_statements(db.engine) as many:
        first = client.get("/dashboard")
    assert few.count == many.count, (few.describe(), many.describe())
    assert len(_card_ids(small.get_data(as_text=True))) == 3
    assert len(_card_ids(first.get_data(as_text=True))) == PAGE_SIZE
    second = client.get("/dashboard?page=2").get_data(as_text=True)
    assert len(_card_ids(second)) == 13
    assert not set(_card_ids(second)) & set(_card_ids(first.get_data(as_text=True)))


def test_the_dashboard_finds_an_incident_by_its_reference(
        session, client, logged_in, create_incident, create_district):
    logged_in("coordinator")
    incidents = _many_incidents(session, create_incident, create_district, PAGE_SIZE + 5)
    wanted = incidents[0]  # the oldest: on the last page
    html = client.get(f"/dashboard?q={wanted.reference.lower()}").get_data(as_text=True)
    assert wanted.id in _card_ids(html)
    api = client.get(f"/api/v1/dashboard?q={wanted.reference}").json
    assert [c["id"] for c in api["incidents"]] == [wanted.id]


def test_the_count_says_how_many_cards_are_shown_of_how_many_in_all(
        session, client, logged_in, create_incident, create_district):
    logged_in("coordinator")
    _many_incidents(session, create_incident, create_district, PAGE_SIZE + 10)
    html = client.get("/dashboard").get_data(as_text=True)
    tag = re.search(r'<span class="tag" id="live-incident-count"([^>]*)>(.*?)</span>', html, flags=re.S)
    assert tag.group(2).strip() == f"{PAGE_SIZE} av {PAGE_SIZE + 10} visas"  # not the total as if all were here
    assert f'data-total="{PAGE_SIZE + 10}"' in tag.group(1)
    assert 'data-text-paged="{shown} av {total} visas"' in tag.group(1)  # live.js keeps the same words
    second = client.get("/dashboard?page=2").get_data(as_text=True)
    assert f"10 av {PAGE_SIZE + 10} visas" in second


def test_a_dashboard_on_one_page_shows_just_the_number(session, client, logged_in, create_incident, create_district):
    logged_in("coordinator")
    _many_incidents(session, create_incident, create_district, 3)
    html = client.get("/dashboard").get_data(as_text=True)
    assert re.search(r'id="live-incident-count"[^>]*>3</span>', html)
