"""'Mina uppgifter' beyond one page (issue 15): the cap is said and the rest is one tap away,
grouped as on the first page, with alerts first on page 1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from crisis.dispatch.services import dispatch_staff
from crisis.incidents.access import assign
from crisis.tasks import routes
from crisis.tasks.models import Task
from tests.conftest import login


def _task_links(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/tasks/(\d+)"', html)]


def _worker_with_many_tasks(app, session, activate, response_setup, n: int):
    coordinator = response_setup["coordinator"]
    worker = response_setup["workers"][0]
    incident = activate()
    assign(session, worker.id, incident.id)
    now = datetime.now(UTC)
    session.execute(insert(Task), [
        {"incident_id": incident.id, "title": {"sv": f"Uppgift {k}", "en": f"Task {k}"}, "category": "outreach",
         "status": "open", "owner_user_id": worker.id, "due_at": now + timedelta(days=k), "version": 1}
        for k in range(n)])
    session.commit()
    with app.app_context():
        dispatch_staff(session, incident=incident, users=[worker], actor=coordinator, purpose="incident")
        session.commit()
    return worker


def test_more_open_tasks_than_a_page_are_said_and_on_the_next_page(
        app, client, session, activate, response_setup, monkeypatch):
    worker = _worker_with_many_tasks(app, session, activate, response_setup, 7)
    login(client, worker.email)
    with app.test_request_context():
        total = routes.count_my_open_tasks(worker)
        every = [t.id for t in routes.my_open_tasks(worker, limit=1000)]
    assert total == len(every) >= 7
    monkeypatch.setattr(routes, "MY_TASKS_PAGE_SIZE", 3)
    first = client.get("/me/tasks").get_data(as_text=True)
    assert f"Du har {total} öppna uppgifter: sidan visar 1–3" in first
    assert "Larm som väntar på ditt svar" in first  # alerts first, on page 1
    assert first.index("Larm som väntar på ditt svar") < first.index("Du har ")
    assert 'href="/me/tasks?page=2" rel="next"' in first and "Fler uppgifter" in first
    seen = _task_links(first)
    assert seen == every[:3]
    page = 2
    while True:
        html = client.get(f"/me/tasks?page={page}").get_data(as_text=True)
        assert "Larm som väntar på ditt svar" not in html
        assert "Försenade" in html or "Denna vecka" in html or "Senare" in html or "I dag" in html  # grouped
        seen += _task_links(html)
        if 'rel="next"' not in html:
            break
        page += 1
    assert seen == every  # every open task reachable, none twice, soonest deadline first


def test_a_short_list_has_no_pager_and_no_cap_line(app, client, session, activate, response_setup):
    worker = _worker_with_many_tasks(app, session, activate, response_setup, 2)
    login(client, worker.email)
    html = client.get("/me/tasks").get_data(as_text=True)
    assert "Du har " not in html and 'rel="next"' not in html
    assert client.get("/me/tasks?page=abc").status_code == 200
    assert client.get("/me/tasks?page=99").status_code == 200
