"""Finding 13 (issue 14): a 403 for an incident one is not assigned to says nothing that identifies it."""

from __future__ import annotations

from crisis.auth.services import create_token


def test_a_refusal_names_no_incident(world, browsers, session):
    w = world
    worker = browsers["outreach"]  # assigned to A, not to B
    reference = w.incident_b.reference
    token = create_token(session, w.users["outreach"]).token
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    api_paths = [f"/api/v1/incidents/{w.incident_b.id}", f"/api/v1/relatives/{w.relative_b.id}",
                 f"/api/v1/incidents/{w.incident_b.id}/tasks", f"/api/v1/incidents/{w.incident_b.id}/timeline",
                 f"/api/v1/followups/{w.follow_up_b.id}", f"/api/v1/relatives/{w.relative_b.id}/followups",
                 f"/api/v1/tasks/{w.others_task_b.id}"]
    pages = [f"/incidents/{w.incident_b.id}", f"/relatives/{w.relative_b.id}", f"/tasks/{w.others_task_b.id}",
             f"/incidents/{w.incident_b.id}/timeline", f"/followups/{w.follow_up_b.id}"]
    answers = [(path, worker.client.get(path, headers=bearer)) for path in api_paths]
    answers += [(path, worker.request("GET", path)) for path in pages]
    for path, response in answers:
        assert response.status_code in (403, 404), (path, response.status_code)
        body = response.get_data(as_text=True)
        assert reference not in body and "Bertil" not in body, (path, body[:300])
