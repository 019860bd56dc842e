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
