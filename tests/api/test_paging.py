"""Every list in the API is paged: `limit` up to a documented maximum, then a cursor."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import crisis
from crisis.core.openapi import openapi_document
from tests.api.conftest import assert_problem


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def list_operations() -> list[tuple[str, dict]]:
    """GET operations that answer a list (`items`, or the dashboard's `incidents`)."""
    for module in pkgutil.iter_modules(crisis.__path__):
        if module.ispkg:  # each capability describes its endpoints in its api.py, when imported
            try:
                importlib.import_module(f"crisis.{module.name}.api")
            except ModuleNotFoundError:
                pass
    document = openapi_document()
    found = []
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        content = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        schema = _resolve(document, content.get("schema", {}))
        properties = schema.get("properties", {})
        if any(_resolve(document, properties[name]).get("type") == "array"
               for name in ("items", "incidents") if name in properties):
            found.append((path, operation))
    return found


def _limit_maximum(operation: dict) -> int | None:
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "limit":
            return parameter["schema"].get("maximum")
    return None


LISTS = list_operations()
NOT_LISTS: set[str] = set()  # none: every list is paged


def test_the_api_has_list_endpoints_to_check():
    assert len(LISTS) >= 12, [p for p, _ in LISTS]


@pytest.mark.parametrize("path", [p for p, _ in LISTS if p not in NOT_LISTS])
def test_every_list_documents_a_limit_with_a_maximum_and_a_cursor(path):
    operation = dict(LISTS)[path]
    assert _limit_maximum(operation) is not None, f"{path} documents no maximum limit"
    assert "cursor" in {p["name"] for p in operation.get("parameters", [])} or path == "/events", path


@pytest.fixture
def world(staff, activate, session):
    from crisis.incidents import services

    incident = activate()
    from crisis.organisation.models import Team

    relative = services.add_relative(session, incident, actor=staff["coordinator"], relation="parent")
    team = Team(name="Paging team", district_id=incident.district_id)
    session.add(team)
    session.commit()
    return {"incident_id": incident.id, "relative_id": relative.id, "team_id": team.id}


@pytest.mark.parametrize("path", [p for p, _ in LISTS if p not in NOT_LISTS])
def test_every_list_refuses_a_limit_over_its_maximum_with_a_422_that_names_it(api, staff, world, path):
    maximum = _limit_maximum(dict(LISTS)[path])
    url = re.sub(r"\{(\w+)\}", lambda m: str(world[m.group(1)]), path)
    response = api.get(url, query_string={"limit": maximum + 1}, as_=staff["admin"])
    body = assert_problem(response, 422, field="limit")
    assert f"at most {maximum}" in body["detail"]
    # ... and answers at the maximum.
    assert api.get(url, query_string={"limit": maximum}, as_=staff["admin"]).status_code == 200


def test_a_cursor_walks_a_list_once_in_order(api, staff, create_user):
    for _ in range(7):
        create_user("outreach")
    everyone = api.get("/users", query_string={"limit": 500}, as_=staff["admin"]).json
    assert everyone["next_cursor"] is None
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/users", query_string=query, as_=staff["admin"]).json
        assert len(page["items"]) <= 3
        seen.extend(u["id"] for u in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [u["id"] for u in everyone["items"]]


def test_a_cursor_the_api_did_not_give_is_a_422(api, staff):
    body = assert_problem(api.get("/users", query_string={"cursor": "not-a-cursor"}, as_=staff["admin"]),
                          422, field="cursor")
    assert "next_cursor" in body["detail"]
