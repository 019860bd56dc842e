"""The API's generic refusals (crisis.core.apischema: the body and the query read against the
published schemas, versions) speak the language asked for: Swedish by default, English when
Accept-Language asks for it, with the same fields and codes either way."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_problem

NO_LANGUAGE = {"Accept-Language": ""}  # neither asked: the token user's language, Swedish by default


@pytest.mark.parametrize("headers, missing, unknown, whole", [
    (NO_LANGUAGE, "type måste anges.", "Okänt fält 'colour'", "district_id måste vara ett heltal."),
    ({"Accept-Language": "sv"}, "type måste anges.", "Okänt fält 'colour'", "district_id måste vara ett heltal."),
    ({"Accept-Language": "en"}, "type is required.", "Unknown field 'colour'", "district_id must be a whole number."),
])
def test_body_refusals_in_the_language_asked_for(api, staff, headers, missing, unknown, whole):
    body = assert_problem(api.post("/incidents", as_=staff["coordinator"], headers=headers,
                                   json={"colour": "red", "district_id": "1"}), 422)
    assert body["code"] == "unprocessable"
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert messages["type"] == missing
    assert messages["colour"].startswith(unknown)
    assert messages["district_id"] == whole
    assert missing in body["detail"]


@pytest.mark.parametrize("headers, needles", [
    (NO_LANGUAGE, ["Ange frågeparametern district_id bara en gång.", "status måste vara något av:",
                   "from måste vara ett datum (2026-11-24)", "to behöver en UTC-förskjutning (tidszon)"]),
    ({"Accept-Language": "en"}, ["Give the query parameter district_id once.", "status must be one of:",
                                 "from must be a date (2026-11-24)", "to needs a UTC offset (time zone)"]),
])
def test_query_refusals_in_the_language_asked_for(api, staff, headers, needles):
    coordinator = staff["coordinator"]
    body = assert_problem(api.get("/incidents?district_id=1&district_id=2&status=open", as_=coordinator,
                                  headers=headers), 422)
    assert {e["field"] for e in body["errors"]} == {"district_id", "status"}
    messages = [e["message"] for e in body["errors"]]
    for query, field in [("?from=2026-13-01", "from"), ("?to=2026-03-14T10:00:00", "to")]:
        messages += [e["message"] for e in assert_problem(api.get("/incidents" + query, as_=coordinator,
                                                                  headers=headers), 422, field)["errors"]]
    text = " ".join(messages)
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.mark.parametrize("headers, message", [
    (NO_LANGUAGE, "limit måste vara ett heltal från 1 till 200."),
    ({"Accept-Language": "en"}, "limit must be a whole number from 1 to 200."),
])
def test_a_page_size_out_of_range_says_so_in_the_language_asked_for(api, staff, headers, message):
    body = assert_problem(api.get("/incidents?limit=0", as_=staff["coordinator"], headers=headers), 422)
    assert body["errors"] == [{"field": "limit", "message": message}]


def test_version_refusals_in_swedish_and_english(api, staff, activate):
    incident = activate()
    path = f"/incidents/{incident.id}"
    swedish = assert_problem(api.patch(path, as_=staff["coordinator"], headers=NO_LANGUAGE,
                                       json={"place": "Farsta"}), 428)
    english = assert_problem(api.patch(path, as_=staff["coordinator"], json={"place": "Farsta"}), 428)
    assert "Ange vilken version du ändrade" in swedish["detail"]
    assert "Say which version you changed" in english["detail"]
    stale = assert_problem(api.patch(path, as_=staff["coordinator"], headers={"If-Match": '"999"', **NO_LANGUAGE},
                                     json={"place": "Farsta"}), 412)
    assert stale["current_version"] == incident.version and "Ändrad av någon annan" in stale["detail"]


def test_the_published_schema_is_unchanged_by_the_language(client):
    """Languages change messages, never the document clients validate against."""
    sv = client.get(API + "/openapi.json", headers={"Accept-Language": "sv"}).json
    en = client.get(API + "/openapi.json", headers={"Accept-Language": "en"}).json
    assert sv == en and "ValidationProblem" in sv["components"]["schemas"]
