"""The incidents list page shows 50 at a time, newest first, with the filters kept across pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from crisis.incidents.routes import LIST_PAGE_SIZE


def test_the_incidents_list_is_paged_newest_first(session, client, logged_in, create_incident, create_district):
    logged_in("coordinator")
    district = create_district()
    now = datetime.now(UTC)
    made = [create_incident(district=district, status="active", activated_at=now - timedelta(hours=k))
            for k in range(LIST_PAGE_SIZE + 3)]
    first = client.get(f"/incidents?district_id={district.id}").get_data(as_text=True)
    second = client.get(f"/incidents?district_id={district.id}&page=2").get_data(as_text=True)
    shown = lambda html: re.findall(r"/incidents/(\d+)\"><strong>", html)  # noqa: E731
    assert [int(i) for i in shown(first)] == [i.id for i in made[:LIST_PAGE_SIZE]]
    assert [int(i) for i in shown(second)] == [i.id for i in made[LIST_PAGE_SIZE:]]
    assert f"district_id={district.id}" in first.split('rel="next"')[0].rsplit("href=", 1)[-1]
    assert client.get("/incidents?page=abc").status_code == 200
