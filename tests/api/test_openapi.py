"""The OpenAPI document: complete, valid OpenAPI 3.1, and the schemas the API validates with."""

import json
import re

import pytest
import schemathesis
from jsonschema import Draft202012Validator

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        routes |= {(method.lower(), path) for method in rule.methods & METHODS}
    return routes


def documented(document) -> set[tuple[str, str]]:
    return {(method, path) for path, operations in document["paths"].items() for method in operations}


def test_every_api_route_is_documented_and_nothing_else(app, document):
    routes = api_routes(app)
    assert routes - documented(document) == set(), "routes without a description"
    assert documented(document) - routes == set(), "descriptions of routes that do not exist"
    assert {("post", "/incidents"), ("patch", "/tasks/{task_id}"), ("get", "/me/tasks"),
            ("get", "/incidents/{incident_id}/timeline"), ("post", "/relatives/{relative_id}/consent")} <= routes


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises on any error
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(documented(document))


def test_every_component_is_a_valid_json_schema_and_every_reference_resolves(document):
    components = document["components"]["schemas"]
    for schema in components.values():
        Draft202012Validator.check_schema(schema)
    references = set(re.findall(r'"\$ref": "#/components/schemas/([A-Za-z]+)"', json.dumps(document)))
    assert references - set(components) == set()


def test_operations_have_unique_ids_and_say_who_may_call_them(document):
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (method, path)
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert set(response["content"]) == {"application/problem+json"}, (method, path, code)


def test_request_bodies_refuse_unknown_fields(document):
    """A typo (funeral_date for funeral_at) must be refused, not silently ignored."""
    components = document["components"]["schemas"]
    mine = ["IncidentActivation", "IncidentFacts", "PersonCreate", "RelativeCreate", "ConsentDecision",
            "ContactPersonChoice", "ReferralCreate", "TaskChange", "TaskCreate"]
    for name in mine:
        assert components[name]["additionalProperties"] is False, name


def test_versioned_changes_document_the_stale_answers(document):
    for path in ("/incidents/{incident_id}", "/tasks/{task_id}"):
        responses = document["paths"][path]["patch"]["responses"]
        assert {"409", "412", "428"} <= set(responses)
        schema = responses["409"]["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/StaleProblem"}
