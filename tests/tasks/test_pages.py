"""Outreach staff on a phone: my tasks and the task page."""

from sqlalchemy import select

from crisis.incidents import services
from crisis.tasks.models import Task, TaskStatus
from tests.conftest import csrf_token, login


def consenting_relative(session, incident, coordinator, **fields):
    relative = services.add_relative(session, incident, actor=coordinator, relation="parent",
                                     phone="+46701740692", **fields)
    services.record_consent(session, relative, actor=coordinator, state="given")
    session.commit()
    return relative


def test_my_tasks_lists_team_tasks_by_deadline(client, session, activate, response_setup):
    incident = activate()
    worker = response_setup["workers"][0]
    consenting_relative(session, incident, response_setup["coordinator"])
    from crisis.incidents.access import assign

    assign(session, worker.id, incident.id)
    session.commit()
    login(client, worker.email)
    page = client.get("/me/tasks").get_data(as_text=True)
    assert "Första kontakt" in page or "kontakt" in page
    titles = page.index("Mina uppgifter")
    assert titles >= 0


def test_outreach_completes_a_task_with_checklist(client, session, activate, response_setup):
    from crisis.incidents.access import assign

    incident = activate()
    worker = response_setup["workers"][0]
    relative = consenting_relative(session, incident, response_setup["coordinator"])
    assign(session, worker.id, incident.id)
    session.commit()
    task = session.scalar(select(Task).where(Task.key == f"first-contact@relative:r{relative.id}"))
    login(client, worker.email)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'href="tel:+46701740692"' in page
    token = csrf_token(client, f"/tasks/{task.id}")
    form = {"csrf_token": token, "version": task.version, "status": "done", "note": "Träffade mamman."}
    form.update({f"check-{i}": "on" for i in range(len(task.checklist))})
    response = client.post(f"/tasks/{task.id}", data=form)
    assert response.status_code == 302
    session.expire_all()
    task = session.get(Task, task.id)
    assert task.status == TaskStatus.DONE
    assert all(item["done"] for item in task.checklist)
    assert task.note == "Träffade mamman."
    assert task.relative.first_contact_at is not None  # done outreach = first contact


def test_stale_task_update_is_refused_and_keeps_the_typed_note(client, session, activate, response_setup):
    from crisis.tasks.services import update_task

    activate()
    coordinator = response_setup["coordinator"]
    task = session.scalar(select(Task).where(Task.key == "situation-picture"))
    login(client, coordinator.email)
    token = csrf_token(client, f"/tasks/{task.id}")
    task = session.get(Task, task.id)  # the request ended the test's session
    old_version = task.version
    update_task(session, task, actor=coordinator, expected_version=old_version, status="in_progress")
    session.commit()
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "version": old_version,
                                                      "status": "done", "note": "Min anteckning"})
    assert response.status_code == 409
    assert "Min anteckning" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Task, task.id).status == TaskStatus.IN_PROGRESS


def test_outreach_cannot_update_someone_elses_task(client, session, activate, response_setup, create_user):
    from crisis.incidents.access import assign

    incident = activate()
    outsider = create_user("outreach")
    assign(session, outsider.id, incident.id)
    session.commit()
    task = session.scalar(select(Task).where(Task.key == "situation-picture"))  # the coordinator's
    login(client, outsider.email)
    token = csrf_token(client, f"/tasks/{task.id}")
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "version": task.version,
                                                      "status": "done"})
    assert response.status_code == 403


def test_task_page_without_consent_has_no_call_link(client, session, activate, response_setup):
    incident = activate()
    relative = services.add_relative(session, incident, actor=response_setup["coordinator"],
                                     relation="parent", phone="+46701740693")
    session.commit()
    task = session.scalar(select(Task).where(Task.key == f"obtain-consent@relative:r{relative.id}"))
    login(client, response_setup["coordinator"].email)
    assert "tel:" not in client.get(f"/tasks/{task.id}").get_data(as_text=True)
