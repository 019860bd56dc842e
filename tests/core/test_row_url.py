"""`row_url`: the links of a list's rows, the same as `url_for` gives each of them."""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import BuildError

from crisis.core.urls import row_url


@pytest.mark.parametrize(("endpoint", "key", "values"), [
    ("tasks.show", "task_id", {}),
    ("tasks.update", "task_id", {}),
    ("incidents.show", "incident_id", {}),
    ("casefile.incident_timeline", "incident_id", {"kind": "access", "page": 2}),
])
def test_the_same_links_as_url_for(app, endpoint, key, values):
    with app.test_request_context("/", base_url="https://krisstod.example.se/app"):
        build = row_url(endpoint, key, **values)
        for ident in (0, 1, 7, 42, 918_273_645, 10**12):
            assert build(ident) == url_for(endpoint, **values, **{key: ident})
        assert "/app/" in build(5)  # behind a prefix, as url_for


def test_anything_but_a_plain_id_goes_through_url_for(app):
    with app.test_request_context("/"):
        build = row_url("tasks.show", "task_id")
        for odd in (-1, True, "12"):
            assert build(odd) == url_for("tasks.show", task_id=odd)
        with pytest.raises(BuildError):
            row_url("no.such_endpoint", "task_id")


def test_a_rule_that_formats_its_ids_otherwise_goes_through_url_for(app):
    from flask import Flask

    other = Flask("rows")
    other.add_url_rule("/case/<int(fixed_digits=6):case_id>", "case", lambda case_id: "")
    with other.test_request_context("/"):
        build = row_url("case", "case_id")
        assert build(42) == "/case/000042" == url_for("case", case_id=42)
