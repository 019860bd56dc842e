"""docs/access-matrix.md and the application agree.

The document is parsed, not copied: its matrix rows (roles × actions, with
the routes that serve each action) and its list of public routes are checked
against Flask's URL map, the role decorators, and real requests by each role.

- Every route is either public (listed with its reason) or behind
  `roles_required`; a new route without either fails here, by name.
- Every route is in the matrix, and the matrix names only routes that exist.
- Each route's role decorator admits exactly the roles the matrix allows.
- Each row is exercised over HTTP (and Socket.IO) by every role, on a record
  the role has a tie to ("mine": assigned incident, own task, the protected
  relative they are contact person for) and one it has none to ("other").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests.security.conftest import ROLES, World

DOC = Path(__file__).resolve().parents[2] / "docs" / "access-matrix.md"
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CELLS = {"yes", "assigned", "own", "contact", "no", "no†"}


# -- the document -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: int
    action: str
    cells: dict[str, str]
    routes: tuple[tuple[str, str], ...]
    socket: bool


def _section(title: str) -> list[str]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def _table(lines: list[str]) -> list[list[str]]:
    rows = [line for line in lines if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]  # no header, no rule


def matrix() -> list[Row]:
    rows = []
    for cells in _table(_section("Matrix")):
        number, action, *by_role, routes = cells
        row = Row(int(number), action, dict(zip(ROLES, by_role, strict=True)),
                  tuple(ROUTE.findall(routes)), "socket" in routes)
        unknown = set(row.cells.values()) - CELLS
        assert not unknown, f"row {row.number}: unknown cell value(s) {unknown}; use one of {sorted(CELLS)}"
        rows.append(row)
    return rows


def public_routes() -> set[tuple[str, str]]:
    return {route for cells in _table(_section("Public routes")) for route in ROUTE.findall(cells[0])}


def app_routes(app) -> dict[tuple[str, str], object]:
    """(method, rule) -> view function, for every route of the app."""
    routes = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & set(METHODS)):
            routes[(method, rule.rule)] = app.view_functions[rule.endpoint]
    return routes


def required_roles(view) -> set[str] | None:
    roles = getattr(view, "required_roles", None)
    return None if roles is None else {r.value for r in roles}


# -- the document and the code ---------------------------------------------------------------


def test_every_route_is_public_or_protected_by_a_role_check(app):
    public = public_routes()
    unprotected = [
        f"{method} {rule} ({view.__module__}.{view.__name__})"
        for (method, rule), view in sorted(app_routes(app).items())
        if (method, rule) not in public and required_roles(view) is None
    ]
    assert not unprotected, (
        "These routes have no role check: decorate them with crisis.auth.permissions.roles_required "
        "(or login_required), or, if they must be reachable without logging in, list them under "
        "'Public routes' in docs/access-matrix.md with the reason:\n  " + "\n  ".join(unprotected))


def test_public_routes_have_no_role_check(app):
    routes = app_routes(app)
    guarded = [f"{m} {r}" for (m, r) in sorted(public_routes()) if (m, r) in routes
               and required_roles(routes[(m, r)]) is not None]
    assert not guarded, f"Listed as public but role-protected (move them to the matrix): {guarded}"


def test_every_protected_route_is_in_the_matrix(app):
    documented = {route for row in matrix() for route in row.routes}
    missing = [f"{m} {r}" for (m, r), view in sorted(app_routes(app).items())
               if (m, r) not in public_routes() and (m, r) not in documented]
    assert not missing, ("Add these routes to the row of docs/access-matrix.md they serve (or a new row), "
                         "with who may use them:\n  " + "\n  ".join(missing))


def test_the_matrix_names_only_routes_that_exist(app):
    routes = app_routes(app)
    named = {route for row in matrix() for route in row.routes} | public_routes()
    stale = sorted(f"{m} {r}" for m, r in named if (m, r) not in routes)
    assert not stale, f"docs/access-matrix.md names routes the app does not have: {stale}"


def test_role_decorators_admit_exactly_the_roles_the_matrix_allows(app):
    routes = app_routes(app)
    allowed: dict[tuple[str, str], set[str]] = {}
    for row in matrix():
        for route in row.routes:
            allowed.setdefault(route, set()).update(role for role, cell in row.cells.items() if cell != "no")
    wrong = []
    for route, roles in sorted(allowed.items()):
        if route not in routes:
            continue
        actual = required_roles(routes[route])
        if actual != roles:
            wrong.append(f"{route[0]} {route[1]}: decorator admits {sorted(actual or [])}, "
                         f"the matrix {sorted(roles)}")
    assert not wrong, "Role decorators and docs/access-matrix.md disagree:\n  " + "\n  ".join(wrong)


def test_every_row_has_requests_in_this_test():
    missing = [row.number for row in matrix() if (row.routes or row.socket) and row.number not in REQUESTS]
    assert not missing, f"Add requests for matrix rows {missing} to REQUESTS in this file."


# -- the rows over HTTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    form: dict | None = None
    json: dict | None = None


@dataclass(frozen=True)
class Join:
    room: str


def _incident(w: World, target: str):
    return w.incident_a if target == "mine" else w.incident_b


def _relative(w: World, target: str):
    return w.relative_a if target == "mine" else w.relative_b


def _protected(w: World, role: str, target: str):
    return w.protected[role] if target == "mine" else w.protected_b


def _dispatch(w: World, role: str, target: str):
    return w.dispatch_a[role] if target == "mine" else w.dispatch_b


def _export_request(w: World) -> int:
    """A pending request for an extract of a protected identity (issue 14), made once per world."""
    if getattr(w, "export_request_id", None) is None:
        from crisis.core.db import db
        from crisis.retention.models import ExportRequest

        row = ExportRequest(relative_id=w.protected_b.id, requested_by_id=w.coord2.id, reason="dnr 2026/1",
                            status="pending")
        db.session.add(row)
        db.session.commit()
        w.export_request_id = row.id
    return w.export_request_id


def _only_mine(target: str, calls: list) -> list:
    return calls if target == "mine" else []


REASON = "Uppföljning enligt plan"

# Matrix row -> the requests that exercise it, for a role and a target ("mine" or "other").
REQUESTS = {
    1: lambda w, role, t: _only_mine(t, [Call("GET", "/incidents"), Call("GET", "/api/v1/incidents")]),
    2: lambda w, role, t: [Call("GET", f"/incidents/{_incident(w, t).id}"),
                           Call("GET", f"/api/v1/incidents/{_incident(w, t).id}"),
                           Call("GET", f"/api/v1/incidents/{_incident(w, t).id}/relatives"),
                           Call("GET", f"/api/v1/incidents/{_incident(w, t).id}/tasks")],
    3: lambda w, role, t: _only_mine(t, [Call("GET", "/incidents/new"), Call("POST", "/incidents/new"),
                                         Call("POST", "/api/v1/incidents")]),
    4: lambda w, role, t: [Call("POST", f"/incidents/{_incident(w, t).id}/facts"),
                           Call("PATCH", f"/api/v1/incidents/{_incident(w, t).id}"),
                           Call("POST", f"/api/v1/incidents/{_incident(w, t).id}/persons")],
    5: lambda w, role, t: [Call("POST", f"/incidents/{_incident(w, t).id}/relatives"),
                           Call("POST", f"/api/v1/incidents/{_incident(w, t).id}/relatives")],
    6: lambda w, role, t: [Call("POST", f"/api/v1/incidents/{_incident(w, t).id}/tasks")],
    7: lambda w, role, t: [Call("GET", f"/relatives/{_relative(w, t).id}"),
                           Call("POST", f"/relatives/{_relative(w, t).id}"),
                           Call("GET", f"/api/v1/relatives/{_relative(w, t).id}")],
    8: lambda w, role, t: [Call("GET", f"/relatives/{_protected(w, role, t).id}"),
                           Call("POST", f"/relatives/{_protected(w, role, t).id}", form={"reason": REASON}),
                           Call("GET", f"/api/v1/relatives/{_protected(w, role, t).id}?reason={REASON}")],
    9: lambda w, role, t: [Call("POST", f"/relatives/{_relative(w, t).id}/consent"),
                           Call("POST", f"/api/v1/relatives/{_relative(w, t).id}/consent"),
                           Call("POST", f"/relatives/{_relative(w, t).id}/consent-call")],
    10: lambda w, role, t: [Call("POST", f"/relatives/{_relative(w, t).id}/referrals"),
                            Call("POST", f"/api/v1/relatives/{_relative(w, t).id}/referrals")],
    11: lambda w, role, t: [Call("POST", f"/relatives/{_relative(w, t).id}/contact-person"),
                            Call("PUT", f"/api/v1/relatives/{_relative(w, t).id}/contact-person")],
    12: lambda w, role, t: [Call("GET", f"/tasks/{(w.task_a if t == 'mine' else w.task_b).id}"),
                            Call("GET", f"/api/v1/tasks/{(w.task_a if t == 'mine' else w.task_b).id}")],
    13: lambda w, role, t: [
        Call("POST", f"/tasks/{(w.own_task_a if t == 'mine' else w.own_task_b)[role].id}"),
        Call("PATCH", f"/api/v1/tasks/{(w.own_task_a if t == 'mine' else w.own_task_b)[role].id}")],
    14: lambda w, role, t: [Call("POST", f"/tasks/{(w.others_task_a if t == 'mine' else w.others_task_b).id}"),
                            Call("PATCH",
                                 f"/api/v1/tasks/{(w.others_task_a if t == 'mine' else w.others_task_b).id}")],
    15: lambda w, role, t: _only_mine(t, [Call("GET", "/me/tasks"), Call("GET", "/api/v1/me/tasks"),
                                          Call("GET", "/api/v1/me/followups")]),
    16: lambda w, role, t: _only_mine(t, [Call("GET", "/followups/week")]),
    17: lambda w, role, t: [
        Call("GET", f"/followups/{(w.follow_up_a if t == 'mine' else w.follow_up_b).id}"),
        Call("GET", f"/api/v1/followups/{(w.follow_up_a if t == 'mine' else w.follow_up_b).id}"),
        Call("GET", f"/api/v1/relatives/{_relative(w, t).id}/followups")],
    18: lambda w, role, t: [
        Call("POST", f"/followups/{(w.follow_up_a if t == 'mine' else w.follow_up_b).id}/outcome"),
        Call("POST", f"/followups/{(w.follow_up_a if t == 'mine' else w.follow_up_b).id}/reschedule"),
        Call("POST", f"/api/v1/followups/{(w.follow_up_a if t == 'mine' else w.follow_up_b).id}/outcome"),
        Call("POST", f"/api/v1/followups/{(w.follow_up_a if t == 'mine' else w.follow_up_b).id}/reschedule")],
    19: lambda w, role, t: [
        Call("GET", f"/dispatches/new?incident={_incident(w, t).id}"),
        Call("POST", f"/dispatches/new?incident={_incident(w, t).id}"),
        Call("POST", f"/api/v1/incidents/{_incident(w, t).id}/dispatches"),
        Call("POST", f"/dispatches/{_dispatch(w, role, t).id}/cancel"),
        Call("POST", f"/api/v1/dispatches/{_dispatch(w, role, t).id}/cancel")],
    20: lambda w, role, t: [
        *_only_mine(t, [Call("GET", "/dispatches"), Call("GET", "/api/v1/dispatches")]),
        Call("GET", f"/dispatches/{_dispatch(w, role, t).id}"),
        Call("GET", f"/api/v1/dispatches/{_dispatch(w, role, t).id}"),
        Call("GET", f"/api/v1/incidents/{_incident(w, t).id}/dispatches"),
        Call("GET", f"/d/{w.tokens[_dispatch(w, role, t).id]}")],
    21: lambda w, role, t: [
        Call("POST", f"/dispatches/{_dispatch(w, role, t).id}/acknowledge"),
        Call("POST", f"/api/v1/dispatches/{_dispatch(w, role, t).id}/acknowledge")],
    22: lambda w, role, t: [
        *_only_mine(t, [Call("GET", "/sms"), Call("GET", "/api/v1/messages")]),
        Call("GET", f"/sms/{(w.message_a if t == 'mine' else w.message_b).id}"),
        Call("GET", f"/api/v1/messages/{(w.message_a if t == 'mine' else w.message_b).id}")],
    23: lambda w, role, t: [
        *_only_mine(t, [Call("GET", "/dashboard"), Call("GET", "/api/v1/dashboard"),
                        Call("GET", "/api/v1/events")]),
        Call("GET", f"/dashboard/incidents/{_incident(w, t).id}/card"),
        Call("GET", f"/api/v1/dashboard/incidents/{_incident(w, t).id}")],
    24: lambda w, role, t: _only_mine(t, [Call("GET", "/dashboard/teams")]),
    25: lambda w, role, t: [Join(f"incident:{_incident(w, t).id}")],
    26: lambda w, role, t: _only_mine(t, [Join("dashboard")]),
    27: lambda w, role, t: [Call("GET", f"/incidents/{_incident(w, t).id}/timeline"),
                            Call("GET", f"/api/v1/incidents/{_incident(w, t).id}/timeline")],
    28: lambda w, role, t: [Call("GET", f"/incidents/{_incident(w, t).id}/timeline.csv"),
                            Call("GET", f"/incidents/{_incident(w, t).id}/timeline.pdf")],
    29: lambda w, role, t: _only_mine(t, [Call("GET", "/reports"), Call("GET", "/reports/incidents.csv"),
                                          Call("GET", "/api/v1/reports")]),
    30: lambda w, role, t: _only_mine(t, [Call("GET", "/access-log"), Call("GET", "/access-log.csv")]),
    31: lambda w, role, t: [
        *_only_mine(t, [Call("GET", "/privacy"), Call("POST", "/privacy", form={"reference": w.incident_a.reference}),
                        # Issue 14: the two-person export of a protected identity.
                        Call("POST", f"/privacy/export-requests/{_export_request(w)}/approve"),
                        Call("POST", f"/privacy/export-requests/{_export_request(w)}/download")]),
        Call("POST", f"/privacy/relatives/{_relative(w, t).id}/export", form={"reason": "Begäran om registerutdrag"}),
        Call("POST", f"/api/v1/relatives/{_relative(w, t).id}/data-subject-export",
             json={"reason": "Begäran om registerutdrag"})],
    32: lambda w, role, t: _only_mine(t, [Call("GET", "/playbooks"), Call("GET", "/playbooks/stockholm-skjutning")]),
    33: lambda w, role, t: _only_mine(t, [Call("GET", "/api/v1/users")]),
    35: lambda w, role, t: _only_mine(t, [
        Call("GET", "/"), Call("GET", "/more"), Call("GET", "/me/device"), Call("GET", "/api/v1/me"), Call("POST", "/api/v1/me/availability",
                                                          json={"availability": "busy"}),
        Call("GET", "/account/security"), Call("POST", "/account/security/recovery-codes"),
        Call("POST", "/account/security/turn-off")]),
    36: lambda w, role, t: _only_mine(t, [Call("GET", "/api/v1/support-organisations")]),
    34: lambda w, role, t: _only_mine(t, [
        Call("GET", "/admin/staff"), Call("GET", "/admin/staff/invite"), Call("POST", "/admin/staff/invite"),
        Call("GET", f"/admin/staff/{w.worker2.id}"), Call("POST", f"/admin/staff/{w.worker2.id}"),
        Call("POST", f"/admin/staff/{w.worker2.id}/deactivate"), Call("POST", f"/admin/staff/{w.worker2.id}/reactivate"),
        Call("POST", f"/admin/staff/{w.worker2.id}/reset-password"),
        Call("POST", f"/admin/staff/{w.worker2.id}/reset-2fa"),
        Call("POST", f"/teams/{_team(w, 'other').id}/members"),
        Call("GET", "/api/v1/staff"), Call("POST", "/api/v1/staff", json={}),
        Call("PATCH", f"/api/v1/staff/{w.worker2.id}", json={}),
        Call("POST", f"/api/v1/staff/{w.worker2.id}/deactivate"),
        Call("POST", f"/api/v1/staff/{w.worker2.id}/reactivate"),
        Call("POST", f"/api/v1/staff/{w.worker2.id}/reset-password"),
        Call("POST", f"/api/v1/staff/{w.worker2.id}/reset-2fa"),
        Call("PUT", f"/api/v1/teams/{_team(w, 'other').id}/members", json={})]),
    37: lambda w, role, t: _only_mine(t, [
        Call("GET", "/account"), Call("POST", "/account/password"), Call("POST", "/account/calendar/new"),
        Call("POST", "/account/calendar/revoke"), Call("GET", "/api/v1/tokens"),
        Call("POST", "/account/sign-out-everywhere")]),
    38: lambda w, role, t: [Call("POST", f"/tokens/{_token(w, role, t)}/revoke"),
                            Call("DELETE", f"/api/v1/tokens/{_token(w, role, t)}")],
    39: lambda w, role, t: [*_only_mine(t, [Call("GET", "/teams")]), Call("GET", f"/teams/{_team(w, t).id}"),
                            Call("GET", f"/api/v1/teams/{_team(w, t).id}/on-call")],
    40: lambda w, role, t: _only_mine(t, [
        Call("POST", f"/teams/{_team(w, t).id}/rota"), Call("POST", f"/teams/{_team(w, t).id}/overrides"),
        Call("POST", f"/teams/{_team(w, t).id}/overrides/{_override(w)}/delete"),
        Call("PUT", f"/api/v1/teams/{_team(w, t).id}/rota", json={}),
        Call("POST", f"/api/v1/teams/{_team(w, t).id}/overrides", json={})]),
    41: lambda w, role, t: _only_mine(t, [Call("GET", "/api/v1/districts"), Call("GET", "/api/v1/teams")]),
    42: lambda w, role, t: [Call("GET", f"/incidents/{_incident(w, t).id}/withdraw"),
                            Call("POST", f"/incidents/{_incident(w, t).id}/withdraw")],
    # Issue 16: push alerts on one's own devices (409 where the test app has no VAPID keys: past the checks).
    46: lambda w, role, t: [
        *_only_mine(t, [Call("GET", "/api/v1/push/subscriptions"), Call("POST", "/api/v1/push/subscriptions", json={}),
                        Call("POST", "/api/v1/push/test")]),
        Call("DELETE", f"/api/v1/push/subscriptions/{_push_subscription(w, role, t)}")],
}


def _team(w: World, target: str):
    """Issue 12: "mine" is the team the outreach user is in; "other" one they are not in."""
    from sqlalchemy import select

    from crisis.core.db import db
    from crisis.organisation.models import Team, TeamMember

    if target == "mine":
        return db.session.scalar(select(Team).join(TeamMember).where(TeamMember.user_id == w.users["outreach"].id))
    other = db.session.scalar(select(Team).where(Team.name == "Matrix other team"))
    if other is None:
        mine = _team(w, "mine")
        other = Team(name="Matrix other team", district_id=mine.district_id)
        db.session.add(other)
        db.session.commit()
    return other


def _override(w: World) -> int:
    from datetime import timedelta

    from crisis.core.db import db, utcnow
    from crisis.oncall.services import add_override

    team = _team(w, "mine")
    start = utcnow() + timedelta(days=30 + len(w.tokens))
    override = add_override(db.session, team, user=w.worker2, starts_at=start, ends_at=start + timedelta(hours=1),
                            actor=None)
    db.session.commit()
    w.tokens[f"override-{override.id}"] = override.id
    return override.id


def _token(w: World, role: str, target: str) -> int:
    from crisis.auth.services import create_token
    from crisis.core.db import db

    user = w.users[role] if target == "mine" else w.coord2
    issued = create_token(db.session, user, "matrix")
    db.session.commit()
    return issued.record.id


def _push_subscription(w: World, role: str, target: str) -> int:
    import base64
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from crisis.core.db import db
    from crisis.push.services import subscribe

    user = w.users[role] if target == "mine" else w.coord2
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    row = subscribe(db.session, user, endpoint=f"https://push.example.net/{os.urandom(8).hex()}",
                    p256dh=base64.urlsafe_b64encode(point).decode().rstrip("="),
                    auth=base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))
    db.session.commit()
    return row.id


def expected(cell: str, target: str) -> str:
    if cell in ("no", "no†"):
        return "refused"
    if cell == "yes":
        return "allowed"
    return "allowed" if target == "mine" else "refused"  # assigned, own, contact


def verdict(response) -> str:
    """allowed: past the access checks (even if the empty form is then refused as invalid)."""
    if response.status_code >= 500:
        return f"error {response.status_code}"
    if response.status_code in (401, 403, 404):
        return "refused"
    if response.status_code in (301, 302, 303) and response.headers["Location"].startswith("/login"):
        return "refused"  # sent to log in: the session was ended
    return "allowed"


def socket_verdict(request, app, user, room: str) -> str:
    """Join `room` on /live over a real Socket.IO connection as `user` (bearer token)."""
    from crisis.auth.services import create_token
    from crisis.core.db import db
    from tests.live.conftest import LiveClient

    base = request.getfixturevalue("live_server")
    token = create_token(db.session, user, "access matrix").token
    db.session.commit()
    client = LiveClient(origin=app.config["PUBLIC_BASE_URL"])
    try:
        assert client.connect(base, auth={"token": token}), f"socket refused at connect: {client.connect_errors}"
        answer = client.join(room)
    finally:
        client.close()
    if answer.get("ok"):
        return "allowed"
    return "refused" if answer.get("status") in (401, 403, 404) else f"error {answer}"


def _rule_of(app, call: Call) -> tuple[str, str]:
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(call.path.split("?")[0], method=call.method, return_rule=True)
    except (NotFound, MethodNotAllowed):
        pytest.fail(f"{call.method} {call.path} matches no route")
    return call.method, rule.rule


ROWS = {row.number: row for row in matrix()}


@pytest.mark.parametrize("number", sorted(n for n, row in ROWS.items() if n in REQUESTS))
def test_matrix_row_holds_for_every_role(number, request, app, world, browsers):
    row = ROWS[number]
    checks = [(role, target, call, expected(row.cells[role], target))
              for role in ROLES for target in ("mine", "other") for call in REQUESTS[number](world, role, target)]
    # Refusals first: a change made by an allowed role (an acknowledged dispatch) must not mask one.
    checks.sort(key=lambda check: check[3] != "refused")
    exercised: set[tuple[str, str]] = set()
    wrong = []
    for role, target, call, want in checks:
        if isinstance(call, Join):
            got = socket_verdict(request, app, world.users[role], call.room)
            what = f"socket join {call.room}"
        else:
            exercised.add(_rule_of(app, call))
            response = browsers[role].request(call.method, call.path, form=call.form, json=call.json)
            got = verdict(response)
            what = f"{call.method} {call.path} -> {response.status_code}"
        if got != want:
            wrong.append(f"{role} ({row.cells[role]}) on {target}: {what}: {got}, the matrix says {want}")
    assert not wrong, f"Row {number} ({row.action}):\n  " + "\n  ".join(wrong)
    assert exercised == set(row.routes), (
        f"Row {number}: the requests here cover {sorted(exercised)}, the row lists {sorted(row.routes)}")
