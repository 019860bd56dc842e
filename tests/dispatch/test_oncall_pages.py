"""The dispatch page says why the coordinator was alerted at once."""

from __future__ import annotations

from sqlalchemy import select

from crisis.dispatch.models import Dispatch
from crisis.messaging.services import set_opt_out
from tests.conftest import csrf_token, login


def test_the_dispatch_page_says_why_the_coordinator_was_alerted(session, client, app, create_world):
    world = create_world(2, can_log_in=True)
    person = world.members[1]
    with app.app_context():
        set_opt_out(session, person.phone, opted_out=True, keyword="STOP")
        session.commit()
    assert login(client, world.coordinator.email).status_code == 302
    form_path = f"/dispatches/new?incident={world.incident.id}"
    response = client.post(form_path, data={
        "csrf_token": csrf_token(client, form_path), "target": "staff", "user_ids": [person.id],
        "escalation_team_id": 0, "purpose": "incident", "team_id": 0, "task_id": 0,
    })
    assert response.status_code == 302
    dispatch = session.scalar(select(Dispatch))
    assert dispatch.unreachable_reason == "opted_out"
    page = client.get(f"/dispatches/{dispatch.id}").get_data(as_text=True)
    assert "Personen har svarat STOP och får inga sms." in page
    assert "Samordnaren larmades direkt." in page
