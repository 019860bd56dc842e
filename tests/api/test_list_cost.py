"""What the API's lists cost (issue 15): as many statements for a long list as for a short one, and
none of the columns they never show read, so none decrypted (an incident's place in a task list or
on the dashboard, a relative's name and phone, a staff member's two-factor secret)."""

from __future__ import annotations

from crisis.core.db import db
from crisis.incidents import services
from crisis.incidents.access import assign
from tests.statements import counting_statements


def _reads(statements, *columns: str) -> list[str]:
    """The given `table.column`s that any SELECT of `statements` reads."""
    return [c for c in columns for s in statements if s.lstrip().upper().startswith("SELECT") and c in s]


def _incident_with_relative(activate, session, staff):
    incident = activate(place="Farsta centrum", police_reference="5000-K123-26")
    services.add_relative(session, incident, actor=staff["coordinator"], relation="parent",
                          name="Amina Testsson", phone="+46701112233")
    assign(session, staff["workers"][0].id, incident.id)
    session.commit()
    return incident


def _cost(api, path, user):
    api.get(path, as_=user)  # warm: the token's use is noted at most once a minute (a write)
    with counting_statements(db.engine) as statements:
        response = api.get(path, as_=user)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json, statements


def test_a_bearer_token_is_read_with_its_user_and_roles_in_one_statement(api, staff):
    _body, statements = _cost(api, "/me", staff["coordinator"])
    assert statements.count == 1, statements.describe()


def test_task_lists_cost_the_same_for_many_incidents_and_read_no_place_or_name(api, staff, activate, session):
    worker = staff["workers"][0]
    first = _incident_with_relative(activate, session, staff)
    mine, few = _cost(api, "/me/tasks", worker)
    of_incident, incident_few = _cost(api, f"/incidents/{first.id}/tasks", worker)
    for _ in range(3):
        _incident_with_relative(activate, session, staff)
    more, many = _cost(api, "/me/tasks", worker)
    assert len(more["items"]) > len(mine["items"]) > 0
    assert few.count == many.count, (few.describe(), many.describe())
    assert {i["incident_reference"] for i in more["items"]} >= {first.reference}
    assert any(i["relative"] and i["relative"]["label"] == "Anhörig 1" for i in of_incident["items"])
    for statements in (few, many, incident_few):
        assert not _reads(statements, "incidents.place", "incidents.police_reference", "relatives.name",
                          "relatives.phone", "relatives.notes"), statements.describe()


def test_the_incident_list_costs_the_same_for_many_incidents_and_leaves_the_playbook_source(
        api, staff, activate, session):
    coordinator = staff["coordinator"]
    activate(place="Farsta centrum")
    short, few = _cost(api, "/incidents", coordinator)
    for _ in range(3):
        activate(place="Farsta centrum")
    long, many = _cost(api, "/incidents", coordinator)
    assert len(long["items"]) == len(short["items"]) + 3
    assert few.count == many.count, (few.describe(), many.describe())
    assert {i["place"] for i in long["items"]} == {"Farsta centrum"}
    assert {i["playbook"]["title"] for i in long["items"]} == {short["items"][0]["playbook"]["title"]}
    assert not _reads(many, "playbook_snapshots.source_text"), many.describe()


def test_the_dashboard_costs_the_same_for_many_incidents_and_reads_no_place_or_secret(
        api, staff, activate, session):
    coordinator = staff["coordinator"]
    _incident_with_relative(activate, session, staff)
    short, few = _cost(api, "/dashboard", coordinator)
    for _ in range(3):
        _incident_with_relative(activate, session, staff)
    long, many = _cost(api, "/dashboard", coordinator)
    assert len(long["incidents"]) == len(short["incidents"]) + 3
    assert few.count == many.count, (few.describe(), many.describe())
    assert [t["name"] for t in long["teams"]] == ["SIG Farsta"]
    assert {m["user_id"] for m in long["teams"][0]["members"]} == {w.id for w in staff["workers"]}
    assert all(c["relatives"] == 1 for c in long["incidents"])
    assert not _reads(many, "incidents.place", "incidents.police_reference", "relatives.name",
                      "users.totp_secret"), many.describe()
