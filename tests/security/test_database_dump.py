"""Finding 9 (issue 14): after a full response, a dump of the database holds none of the free text entered,
and retention (gallring) clears ad hoc task text too."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from crisis.core.db import db, utcnow
from crisis.models import Base
from tests.security import scripted


def client_sender(client):
    def send(method, path, *, token=None, json=None, form=None):
        db.session.remove()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = client.open(path, method=method, headers=headers, json=json, data=form)
        body = response.get_json(silent=True)
        return response.status_code, body if body is not None else response.get_data(as_text=True)

    return send


def dump() -> str:
    """Every value of every table as the database holds it (what pg_dump or a stolen file shows)."""
    lines = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                lines.append(f"{table.name}: " + " | ".join(str(v) for v in row))
    return "\n".join(lines)


def test_a_database_dump_holds_no_free_text_of_a_response(client, scripted_response):
    scripted.run(scripted_response["make"](client_sender(client)))
    everything = dump()
    assert "enc1:" in everything
    leaked = {key: value for key, value in {**scripted.FREE_TEXT, **scripted.NAMES}.items() if value in everything}
    phones = [p for p in scripted.PHONE_FORMS[:1] if p in everything]
    assert not leaked and not phones, (leaked, phones)


def test_retention_clears_the_text_of_ad_hoc_tasks(client, scripted_response, session):
    from crisis.incidents.models import Incident, IncidentStatus
    from crisis.retention.services import anonymise_incident
    from crisis.tasks.models import Task

    ids = scripted.run(scripted_response["make"](client_sender(client)))
    db.session.remove()
    incident = session.get(Incident, ids["incident"])
    incident.status = IncidentStatus.CLOSED
    incident.closed_at = utcnow() - timedelta(days=2000)
    anonymise_incident(session, incident)
    session.commit()
    db.session.remove()
    task = session.get(Task, ids["task"])
    shown = str(task.title) + str(task.description)
    assert scripted.FREE_TEXT["task_title"] not in shown and scripted.FREE_TEXT["task_description"] not in shown
    # Playbook tasks keep their (public) titles: statistics and the timeline still read.
    planned = session.scalars(select(Task).where(Task.incident_id == incident.id, Task.key.is_not(None))).all()
    assert planned and all(t.title.get("sv") for t in planned)
