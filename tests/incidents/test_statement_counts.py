"""Activation and the main pages cost the same number of statements however many incidents exist."""

from __future__ import annotations

from crisis.core.db import db
from tests.statements import counting_statements

#: Activation, a relative, consent and first contact, with what each lays out (new tasks and
#: follow-ups one INSERT each). SQLite inserts a change's event and the plan's event one at a
#: time (the ORM needs each new row's id back in order).
ACTIVATION_FLOW_STATEMENTS = {"postgresql": 40, "sqlite": 44}


def _activate_counting(activate) -> int:
    with counting_statements(db.engine) as statements:
        activate()
    return statements.count


def test_activation_costs_the_same_with_one_or_many_incidents_already_open(session, activate):
    activate()  # the playbook snapshot is pinned once, then reused
    one = _activate_counting(activate)
    for _ in range(8):
        activate()
    many = _activate_counting(activate)
    assert one == many


def test_main_pages_cost_the_same_with_few_or_many_incidents(session, client, activate, response_setup):
    from tests.conftest import login

    coordinator = response_setup["coordinator"]
    first = activate()
    assert login(client, coordinator.email).status_code == 302
    pages = ["/dashboard", f"/incidents/{first.id}", "/incidents", "/me/tasks", f"/incidents/{first.id}/timeline",
             "/api/v1/dashboard", "/api/v1/incidents", "/api/v1/me/tasks"]

    def counts() -> dict[str, int]:
        found = {}
        for page in pages:
            client.get(page)  # warm: what a page loads once per process or session
            with counting_statements(db.engine) as statements:
                assert client.get(page).status_code == 200, page
            found[page] = statements.count
        return found

    few = counts()
    for _ in range(6):
        activate()
    assert counts() == few


def test_the_incident_page_costs_the_same_with_one_or_four_relatives_with_phones(session, client, activate,
                                                                                  response_setup, create_relative):
    from tests.conftest import login

    incident = activate()
    create_relative(incident, phone="+46701740651")
    session.commit()
    assert login(client, response_setup["coordinator"].email).status_code == 302
    page = f"/incidents/{incident.id}"

    def count() -> int:
        client.get(page)  # warm
        with counting_statements(db.engine) as statements:
            assert client.get(page).status_code == 200
        return statements.count

    one = count()
    for n in range(3):
        create_relative(incident, phone=f"+4670174066{n}")
    session.commit()
    assert count() == one


def test_activation_with_consent_and_first_contact_costs_at_most_a_fixed_number_of_statements(
        session, activate, response_setup):
    """Re-dated tasks and follow-ups are one UPDATE per kind of change, not one per row."""
    from crisis.incidents import services

    coordinator = response_setup["coordinator"]
    activate()  # the playbook snapshot is pinned once, then reused
    with counting_statements(db.engine) as statements:
        incident = activate()
        relative = services.add_relative(session, incident, actor=coordinator, relation="parent")
        session.commit()
        services.record_consent(session, relative, actor=coordinator, state="given", scope=["contact", "sms"])
        session.commit()
        services.record_first_contact(session, relative, actor=coordinator)
        session.commit()
    updates = [s for s in statements if s.lstrip().upper().startswith(("UPDATE FOLLOW_UPS", "UPDATE TASKS"))]
    assert len(updates) <= 4, statements.describe()  # first contact: re-dated follow-ups, tasks; consent: a task
    assert statements.count <= ACTIVATION_FLOW_STATEMENTS[db.engine.dialect.name], statements.describe()


def test_the_incident_page_costs_the_same_with_one_or_many_dispatches_and_task_owners(
        session, client, activate, response_setup, create_user, create_team):
    """The dispatch panel names each dispatch's team and person, the task list each task's owner:
    in the statements that read them, not one statement (or two: a user and their roles) each."""
    from sqlalchemy import select

    from crisis.dispatch.models import Dispatch
    from crisis.tasks.models import Task
    from tests.conftest import login

    incident = activate()
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.id)).all()
    assert len(tasks) >= 6
    workers = [create_user("outreach", name=f"Arbetare {n}") for n in range(3)]
    teams = [create_team(response_setup["district"], [w], name=f"Lag {n}") for n, w in enumerate(workers)]

    def give_out(n: int) -> None:
        for k in range(n):
            session.add(Dispatch(incident_id=incident.id, user_id=workers[k].id))
            session.add(Dispatch(incident_id=incident.id, team_id=teams[k].id))
            tasks[k].owner_user_id, tasks[-1 - k].owner_team_id = workers[k].id, teams[k].id
        session.commit()

    assert login(client, response_setup["coordinator"].email).status_code == 302
    page = f"/incidents/{incident.id}"

    def count() -> tuple[int, str]:
        client.get(page)  # warm
        with counting_statements(db.engine) as statements:
            html = client.get(page).get_data(as_text=True)
        return statements.count, html

    give_out(1)
    one, html = count()
    assert "Arbetare 0" in html and "Lag 0" in html
    give_out(3)
    many, html = count()
    assert all(f"Arbetare {n}" in html and f"Lag {n}" in html for n in range(3))
    assert many == one


def test_the_pages_read_no_encrypted_column_they_do_not_show(session, client, activate, response_setup,
                                                              create_relative):
    """The list shows no place or police reference, the incident page no relative's name or notes
    and no task's description or note, the timeline no place or police reference: those columns
    are not read, so nothing is decrypted for them (crisis.core.crypto decrypts on load)."""
    from tests.conftest import login

    incident = activate()
    create_relative(incident, phone="+46701740651", name="Astrid Lindqvist", notes="Anteckning")
    assert login(client, response_setup["coordinator"].email).status_code == 302
    not_shown = {
        "/incidents": ["incidents.place", "incidents.police_reference"],
        f"/incidents/{incident.id}": ["incidents.place", "relatives.name", "relatives.notes",
                                      "tasks.description", "tasks.note", "playbook_snapshots.source_text"],
        f"/incidents/{incident.id}/timeline": ["incidents.place", "incidents.police_reference"],
    }
    for page, columns in not_shown.items():
        client.get(page)  # warm
        with counting_statements(db.engine) as statements:
            assert client.get(page).status_code == 200, page
        read = "\n".join(statements)
        assert not [c for c in columns if c in read], (page, statements.describe())
