"""Injection through filters and ids: odd query strings never give a 500, never widen what one sees.

Every GET route of the URL map is called with every filter name the app
reads set to hostile values (SQL fragments, huge numbers, NUL bytes, markup),
as an admin and as an outreach worker; the outreach worker must not see the
incident they are not assigned to in any answer.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from crisis.core.db import db
from crisis.incidents.models import Incident

PARAMETERS = ("status", "type", "district_id", "district", "start", "end", "from", "to", "before", "after",
              "page", "week", "scope", "kind", "kinds", "user", "user_id", "relative", "relative_id", "incident",
              "incident_id", "task", "direction", "q", "period", "limit", "offset", "reason", "next", "action",
              "assigned", "table", "via", "phone", "name", "reference", "outcome", "category", "owner", "due")
HOSTILE = ["' OR 1=1 --", "1;drop table incidents", "99999999999999999999", "-1", "\x00",
           "<script>alert(1)</script>", "9999-12-31", "0001-01-01", "é" * 300]
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def get_routes(app, world) -> list[str]:
    ids = {"incident_id": world.incident_a.id, "relative_id": world.relative_a.id, "task_id": world.task_a.id,
           "follow_up_id": world.follow_up_a.id, "dispatch_id": world.dispatch_a["outreach"].id,
           "message_id": world.message_a.id, "playbook_id": "stockholm-skjutning", "table_id": "incidents",
           "token": world.tokens[world.dispatch_a["outreach"].id], "code": "sv", "filename": "css/app.css"}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/static"):
            continue
        values = {name: ids.get(name, 1) for _, name in ARGUMENT.findall(rule.rule)}
        urls.append(rule.build(values, append_unknown=False)[1])
    return sorted(urls)


@pytest.mark.parametrize("role", ["admin", "outreach"])
def test_hostile_filters_give_no_server_error_and_no_wider_view(app, world, browsers, role):
    browser = browsers[role]
    hidden = world.incident_b.reference
    errors, leaks = [], []
    for url in get_routes(app, world):
        for value in HOSTILE:
            path = f"{url}?{urlencode({name: value for name in PARAMETERS})}"
            try:
                response = browser.request("GET", path)
            except Exception as exc:  # noqa: BLE001  (the test app propagates errors; count them as 500s)
                errors.append(f"{url} with {value!r} -> {type(exc).__name__}: {exc}"[:300])
                continue
            if response.status_code >= 500:
                errors.append(f"{url} with {value!r} -> {response.status_code}")
            elif role == "outreach" and hidden in response.get_data(as_text=True):
                leaks.append(f"{url} with {value!r} shows incident {hidden}")
    assert not errors, "Server errors:\n  " + "\n  ".join(errors[:30])
    assert not leaks, "Incident B leaked to an outreach worker not assigned to it:\n  " + "\n  ".join(leaks[:30])
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 2  # nothing was dropped


@pytest.mark.parametrize("path", ["/incidents/99999999999999999999", "/relatives/99999999999999999999",
                                  "/tasks/99999999999999999999", "/api/v1/incidents/99999999999999999999",
                                  "/api/v1/relatives/99999999999999999999", "/api/v1/tasks/99999999999999999999",
                                  "/dispatches/99999999999999999999", "/followups/99999999999999999999",
                                  "/sms/99999999999999999999", "/api/v1/messages/99999999999999999999",
                                  "/dashboard/incidents/99999999999999999999/card",
                                  "/api/v1/dispatches/99999999999999999999",
                                  "/incidents/99999999999999999999/timeline",
                                  "/d/" + "A" * 500])
def test_ids_beyond_the_database_range_are_not_found(world, browsers, path):
    assert browsers["admin"].request("GET", path).status_code == 404


def test_incident_filters_cannot_be_widened(world, browsers):
    worker = browsers["outreach"]
    for query in ["status=' OR 1=1 --", "district_id=1;drop table incidents", "status=closed' OR '1'='1",
                  f"district_id={world.incident_b.district_id} OR 1=1"]:
        response = worker.request("GET", "/incidents?" + query)
        assert response.status_code < 500
        assert world.incident_b.reference not in response.get_data(as_text=True)
        api = worker.request("GET", "/api/v1/incidents?" + query)
        assert api.status_code < 500
        if api.status_code == 200:
            assert world.incident_b.id not in [i["id"] for i in api.json["items"]]
