"""Offline reading on the server's side (issue 16, item 2): what the phone may keep, for whom.

The service worker keeps a page only when the server marks it `X-Offline-Cache: allow`
(crisis/pwa/offline.py); every page stays `Cache-Control: no-store` for the browser's
own cache. The browser half is tests/browser/test_offline.py.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crisis.dispatch.services import dispatch_staff
from crisis.followups.models import FollowUp
from crisis.incidents import services
from crisis.incidents.access import assign
from crisis.tasks.models import Task
from crisis.timeline.models import AccessLog
from tests.conftest import login


@pytest.fixture
def visit(app, session, activate, response_setup):
    """An outreach worker assigned to a response: a relative who consented (with the worker as contact
    person, so the follow-ups are the worker's), a relative with protected identity, an alert."""
    coordinator, worker = response_setup["coordinator"], response_setup["workers"][0]
    incident = activate()
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent",
                                     phone="+46701740692", contact_person_id=worker.id)
    services.record_consent(session, relative, actor=coordinator, state="given")
    hidden = services.add_relative(session, incident, actor=coordinator, relation="sibling",
                                   protected_identity=True, contact_person_id=worker.id)
    assign(session, worker.id, incident.id)
    session.commit()
    task = session.scalar(select(Task).where(Task.key == f"first-contact@relative:r{relative.id}"))
    hidden_task = session.scalar(select(Task).where(Task.relative_id == hidden.id,
                                                    Task.status.in_(["open", "in_progress"])))
    hidden_task.owner_user_id = worker.id  # the worker's own task about the protected relative
    session.commit()
    follow_up = session.scalar(select(FollowUp).where(FollowUp.relative_id == relative.id)
                               .order_by(FollowUp.id))
    follow_up.due_at = datetime.now(UTC) + timedelta(days=2)  # the plan dates it from a later fact
    session.commit()
    with app.app_context():
        (alert,) = dispatch_staff(session, incident=incident, users=[worker], actor=coordinator,
                                  purpose="visit", task=task)
        session.commit()
    return {"worker": worker, "coordinator": coordinator, "incident": incident, "relative": relative,
            "hidden": hidden, "task": task, "hidden_task": hidden_task, "follow_up": follow_up,
            "alert": alert}


def kept(response) -> bool:
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"  # never the browser's own HTTP cache
    return response.headers.get("X-Offline-Cache") == "allow"


def test_the_outreach_workers_own_pages_may_be_kept_for_them_only(client, visit):
    worker = visit["worker"]
    assert visit["follow_up"] is not None and visit["follow_up"].owner_user_id == worker.id
    login(client, worker.email)
    for path in (f"/tasks/{visit['task'].id}", f"/dispatches/{visit['alert'].id}",
                 f"/followups/{visit['follow_up'].id}", f"/relatives/{visit['relative'].id}",
                 "/me/device", "/me/offline", "/followups/week"):
        response = client.get(path)
        assert kept(response), path
        assert response.headers["X-Offline-User"] == str(worker.id)
    # Pages that are not the worker's own work are never kept.
    assert not kept(client.get(f"/incidents/{visit['incident'].id}"))
    assert not kept(client.get("/incidents"))


def test_nothing_is_kept_for_coordinators(client, visit):
    login(client, visit["coordinator"].email)
    for path in ("/me/tasks", f"/tasks/{visit['task'].id}", f"/relatives/{visit['relative'].id}",
                 f"/dispatches/{visit['alert'].id}", "/me/device"):
        response = client.get(path)
        assert not kept(response), path
        assert "X-Offline-User" not in response.headers
    assert client.get("/me/offline/pages").get_json()["pages"] == []


def test_a_protected_identity_is_never_kept_nor_a_list_showing_it(client, session, visit):
    login(client, visit["worker"].email)
    hidden = visit["hidden"]
    response = client.post(f"/relatives/{hidden.id}",
                           data={"reason": "Besök enligt plan", "csrf_token": _token(client)})
    assert response.status_code == 200 and not kept(response)
    assert visit["hidden_task"] is not None
    assert not kept(client.get(f"/tasks/{visit['hidden_task'].id}"))
    # "Mina uppgifter" lists the protected relative's task: the page is not kept either.
    assert not kept(client.get("/me/tasks"))
    listing = client.get("/me/offline/pages").get_json()
    assert f"/relatives/{hidden.id}" not in listing["pages"]
    assert f"/tasks/{visit['hidden_task'].id}" not in listing["pages"]
    assert "/me/tasks" not in listing["pages"]
    # Without the protected relative's open tasks the list page may be kept again.
    for task in session.scalars(select(Task).where(Task.relative_id == hidden.id)):
        task.status = "not_applicable"
    session.commit()
    assert kept(client.get("/me/tasks"))


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/me/device")


def test_the_page_list_names_only_what_the_worker_may_read(client, session, visit, create_incident,
                                                          create_relative):
    worker = visit["worker"]
    elsewhere = create_incident()  # not assigned: none of it may be listed
    stranger = create_relative(elsewhere)
    login(client, worker.email)
    listing = client.get("/me/offline/pages")
    assert listing.headers["Cache-Control"] == "no-store"
    body = listing.get_json()
    assert body["user_id"] == worker.id and body["csrf_token"]
    pages = body["pages"]
    for path in (f"/tasks/{visit['task'].id}", f"/dispatches/{visit['alert'].id}",
                 f"/followups/{visit['follow_up'].id}", f"/relatives/{visit['relative'].id}",
                 "/me/offline", "/me/device"):
        assert path in pages, path
    assert f"/relatives/{stranger.id}" not in pages
    assert not any(f"/incidents/{elsewhere.id}" in p for p in pages)
    # Each listed page, fetched as the phone does, is one the server lets it keep.
    before = session.scalar(select(AccessLog).where(AccessLog.relative_id == visit["relative"].id,
                                                    AccessLog.action == "offline_copy"))
    assert before is None
    for path in pages:
        assert kept(client.get(path, headers={"X-Offline-Prefetch": "1"})), path
    # Copying a record to the phone is in the access log, as such.
    copies = session.scalars(select(AccessLog).where(AccessLog.relative_id == visit["relative"].id,
                                                     AccessLog.action == "offline_copy")).all()
    assert copies and all(c.user_id == worker.id for c in copies)


def test_the_page_list_needs_a_login(client):
    response = client.get("/me/offline/pages")
    assert response.status_code in (302, 401)


def test_logout_asks_the_browser_to_drop_its_cache_but_not_the_waiting_changes(client, visit):
    login(client, visit["worker"].email)
    response = client.post("/logout", data={"csrf_token": _token(client)})
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache"'  # never "storage": the queue lives there


def test_every_page_of_a_logged_in_user_carries_the_offline_texts_in_swedish(client, visit):
    login(client, visit["worker"].email)
    page = client.get("/me/device").get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="offline-config">(.*?)</script>', page, re.S)
    config = json.loads(block.group(1))
    assert config["user_id"] == visit["worker"].id and config["keeps_pages"] is True
    assert config["text"]["fetched"] == "Visas utan anslutning – hämtad kl. {time}"
    assert config["labels"]["task"]["done"] == "Klar"
    assert "/static/js/offline.js" in page
    assert 'id="offline-queue-list"' in page


def test_a_page_fetched_ahead_leaves_the_message_for_the_page_the_worker_opens(client, visit):
    """The service worker fetches pages ahead while the worker uses the app: such a copy neither
    takes a flashed message ("Klart: ...") from the page being opened nor writes the cookie back."""
    login(client, visit["worker"].email)
    with client.session_transaction() as browser:
        browser["_flashes"] = [("success", "Klart: Första kontakt")]
    ahead = client.get("/me/tasks", headers={"X-Offline-Prefetch": "1"})
    assert ahead.status_code == 200
    assert "Klart: Första kontakt" not in ahead.get_data(as_text=True)
    assert "Set-Cookie" not in ahead.headers
    opened = client.get(f"/tasks/{visit['task'].id}")
    assert "Klart: Första kontakt" in opened.get_data(as_text=True)
