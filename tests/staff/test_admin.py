"""Staff administration through the pages, the CLI and the API; each refused for non-admins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crisis.auth.models import ApiToken, Role, User
from crisis.auth.services import create_token, user_for_token
from crisis.cli import main
from crisis.core.db import utcnow
from crisis.staff.models import AccountLink
from crisis.timeline.models import TimelineEvent
from tests.conftest import csrf_token, login

LINK = re.compile(r"/account/link/([A-Za-z0-9_-]+)")


def invoke(app, *args):
    return app.test_cli_runner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def events(session, type_):
    return session.scalars(select(TimelineEvent).where(TimelineEvent.type == type_)).all()


def post(client, path, data=None, page="/account"):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


@pytest.fixture
def admin_client(client, create_user):
    admin = create_user("admin", email="admin@example.se")
    assert login(client, admin.email).status_code == 302
    return admin


# -- pages -------------------------------------------------------------------------------------


def test_admin_invites_from_the_page_and_the_link_sets_a_password_once(session, client, app, admin_client,
                                                                        create_district):
    district = create_district("farsta", name="Farsta")
    response = post(client, "/admin/staff/invite", {
        "email": "Ny.Uppsokare@example.se", "name": "Ny Uppsökare", "roles": ["outreach"],
        "district": district.id, "phone": "070-174 06 50", "language": "sv"}, page="/admin/staff/invite")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    token = LINK.search(page).group(1)
    user = session.scalar(select(User).where(User.email == "ny.uppsokare@example.se"))
    assert user.password_hash is None and user.district_id == district.id and user.phone == "+46701740650"
    [invited] = events(session, "user.invited")
    assert invited.data == {"user_id": user.id, "roles": ["outreach"], "district_id": district.id,
                            "sent_by_sms": False}
    assert "Ny Uppsökare" not in invited.summary and "example.se" not in str(invited.data)

    worker = app.test_client()
    form = worker.get(f"/account/link/{token}")
    assert form.status_code == 200 and "Välj lösenord" in form.get_data(as_text=True)
    done = worker.post(f"/account/link/{token}", data={
        "csrf_token": csrf_token(worker, f"/account/link/{token}"),
        "password": "ett bra losenord", "password_again": "ett bra losenord"})
    assert done.status_code == 302 and done.headers["Location"].startswith("/login")
    assert login(worker, user.email, "ett bra losenord").status_code == 302

    again = app.test_client().get(f"/account/link/{token}")
    assert again.status_code == 410
    assert "Länken har redan använts" in again.get_data(as_text=True)


def test_an_expired_or_unknown_link_gives_a_clear_page(session, client, app, admin_client):
    response = post(client, "/admin/staff/invite", {"email": "sen@example.se", "roles": ["outreach"]},
                    page="/admin/staff/invite")
    token = LINK.search(response.get_data(as_text=True)).group(1)
    link = session.scalar(select(AccountLink))
    link.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    expired = app.test_client().get(f"/account/link/{token}")
    assert expired.status_code == 410 and "Länken har gått ut" in expired.get_data(as_text=True)
    assert "Be en administratör om en ny länk" in expired.get_data(as_text=True)
    unknown = app.test_client().get("/account/link/nonsense")
    assert unknown.status_code == 404 and "Länken är inte giltig" in unknown.get_data(as_text=True)


def test_admin_edits_deactivates_reactivates_and_resets_from_the_page(session, client, admin_client, create_user,
                                                                      create_district):
    district = create_district("angered", name="Angered")
    staff = create_user("outreach", email="staff@example.se")
    token = create_token(session, staff, "phone app").token
    session.commit()
    page = f"/admin/staff/{staff.id}"
    assert client.get("/admin/staff?q=staff@").get_data(as_text=True).count(f"/admin/staff/{staff.id}") == 1

    response = post(client, page, {"name": "Staff Person", "roles": ["outreach", "coordinator"],
                                   "district": district.id, "phone": "+46701740651", "language": "en"}, page=page)
    assert response.status_code == 302
    session.expire_all()
    staff = session.get(User, staff.id)
    assert staff.roles == {Role.OUTREACH, Role.COORDINATOR} and staff.language == "en"
    assert events(session, "user.updated")[0].data["changed"] == ["roles", "district", "phone", "language", "name"]

    assert post(client, f"{page}/deactivate", page=page).status_code == 302
    session.expire_all()
    assert not session.get(User, staff.id).active
    assert user_for_token(session, token) is None
    assert session.scalar(select(ApiToken.revoked_at)) is not None
    assert post(client, f"{page}/reactivate", page=page).status_code == 302
    session.expire_all()
    assert session.get(User, staff.id).active
    assert user_for_token(session, token) is None  # tokens stay revoked

    reset = post(client, f"{page}/reset-password", page=page)
    assert reset.status_code == 200 and LINK.search(reset.get_data(as_text=True))
    session.expire_all()
    assert session.get(User, staff.id).password_hash is None
    assert post(client, f"{page}/reset-2fa", page=page).status_code == 302
    types = {e.type for e in session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "staff"))}
    assert {"user.updated", "user.deactivated", "user.reactivated", "user.password_reset",
            "user.two_factor_removed", "user.sessions_ended"} <= types


def test_the_last_admin_cannot_be_deactivated_or_lose_the_role(session, client, app, admin_client, api):
    page = f"/admin/staff/{admin_client.id}"
    response = post(client, f"{page}/deactivate", page=page)
    assert response.status_code == 302
    assert "sista aktiva administratören" in client.get(page).get_data(as_text=True)
    session.expire_all()
    assert session.get(User, admin_client.id).active
    cli = invoke(app, "users", "deactivate", admin_client.email)
    assert cli.exit_code == 2 and "sista aktiva administratören" in cli.output
    refused = api.patch(f"/staff/{admin_client.id}", as_=admin_client, json={"roles": ["coordinator"]})
    assert refused.status_code == 422 and "last active administrator" in refused.json["detail"]


def test_an_administrative_refusal_is_said_in_the_readers_language(session, client, create_user):
    admin = create_user("admin")
    admin.language = "en"
    session.commit()
    assert login(client, admin.email).status_code == 302
    page = f"/admin/staff/{admin.id}"
    assert post(client, f"{page}/deactivate", page=page).status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "This is the last active administrator; make someone else administrator first." in html
    assert "sista aktiva administratören" not in html


@pytest.mark.parametrize("path", ["/admin/staff", "/admin/staff/invite", "/admin/staff/1"])
def test_admin_pages_are_refused_to_coordinators(client, logged_in, path):
    logged_in("coordinator")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("action", ["deactivate", "reactivate", "reset-password", "reset-2fa"])
def test_admin_actions_are_refused_to_coordinators(session, client, logged_in, create_user, action):
    staff = create_user("outreach")
    logged_in("coordinator")
    response = post(client, f"/admin/staff/{staff.id}/{action}", page="/account")
    assert response.status_code == 403
    assert not events(session, f"user.{action}")


# -- own account ---------------------------------------------------------------------------------


def test_anyone_changes_their_own_password_with_the_current_one(session, client, logged_in):
    user = logged_in("outreach")
    wrong = post(client, "/account/password", {"current_password": "fel", "new_password": "nytt losenord 1",
                                               "new_password_again": "nytt losenord 1"})
    assert wrong.status_code == 302
    assert "Det nuvarande lösenordet är fel." in client.get("/account").get_data(as_text=True)
    ok = post(client, "/account/password", {"current_password": "correct horse battery",
                                            "new_password": "nytt losenord 1", "new_password_again": "nytt losenord 1"})
    assert ok.status_code == 302
    assert client.get("/account").status_code == 200  # this session continues
    assert events(session, "user.password_changed")[0].data == {"user_id": user.id}


def test_sign_out_everywhere_ends_other_sessions(session, app, client, create_user):
    user = create_user("outreach")
    other = app.test_client()
    assert login(client, user.email).status_code == 302
    assert login(other, user.email).status_code == 302
    assert other.get("/account").status_code == 200
    assert post(client, "/account/sign-out-everywhere").status_code == 302
    assert other.get("/account").status_code == 302  # to the login page
    assert client.get("/account").status_code == 302
    assert events(session, "user.sessions_ended")[0].data == {"user_id": user.id, "reason": "sign_out_everywhere"}


def test_staff_stop_and_start_show_on_profile_and_team_page(session, client, app, create_user, create_team,
                                                            create_district):
    from crisis.messaging.services import set_opt_out

    user = create_user("outreach", phone="+46701740652")
    team = create_team(create_district(), [user])
    assert login(client, user.email).status_code == 302
    with app.app_context():
        set_opt_out(session, user.phone, opted_out=True, keyword="STOP")
        session.commit()
    assert "Du har svarat STOP" in client.get("/account").get_data(as_text=True)
    assert "har svarat STOP: inga sms" in client.get(f"/teams/{team.id}").get_data(as_text=True)
    assert [e.data for e in events(session, "user.opted_out")] == [{"user_id": user.id}]
    with app.app_context():
        set_opt_out(session, user.phone, opted_out=False, keyword="START")
        session.commit()
    assert "Du har svarat STOP" not in client.get("/account").get_data(as_text=True)
    assert [e.data for e in events(session, "user.opted_in")] == [{"user_id": user.id}]


# -- tokens --------------------------------------------------------------------------------------


def test_tokens_expire_after_90_days_by_default_and_longer_must_be_asked_for(session, app, create_user):
    user = create_user("coordinator", email="api@example.se")
    issued = create_token(session, user)
    assert abs(issued.record.expires_at - (utcnow() + timedelta(days=90))) < timedelta(minutes=1)
    invoke(app, "tokens", "create", user.email, "--days", "365")
    longest = session.scalars(select(ApiToken.expires_at).order_by(ApiToken.id)).all()[-1]
    assert longest - utcnow() > timedelta(days=364)


def test_user_lists_and_revokes_own_token_on_the_account_page(session, client, logged_in):
    user = logged_in("outreach")
    issued = create_token(session, user, "min telefon")
    session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert "min telefon" in page and "Senast använd" in page and "Upphör" in page
    assert post(client, f"/tokens/{issued.record.id}/revoke").status_code == 302
    assert user_for_token(session, issued.token) is None
    assert events(session, "token.revoked")[0].data == {"token_id": issued.record.id, "user_id": user.id}


def test_nobody_revokes_someone_elses_token_but_an_admin(session, client, logged_in, create_user):
    other = create_user("outreach")
    issued = create_token(session, other)
    session.commit()
    logged_in("coordinator")
    assert post(client, f"/tokens/{issued.record.id}/revoke").status_code == 404
    assert user_for_token(session, issued.token) == other


def test_ended_sessions_are_announced_for_the_live_dashboard(session, app, client, admin_client, api, create_user):
    """Deactivation from the page, the API and the CLI sends crisis.core.signals.sessions_ended (live closes
    the user's sockets on it); a refused change and a reactivation announce nothing."""
    from crisis.core.signals import sessions_ended

    staff = create_user("outreach", email="staff@example.se")
    admin = create_user("admin")
    heard = []

    def listener(_sender, *, user_id, **_kwargs):
        heard.append(user_id)

    with sessions_ended.connected_to(listener):
        page = f"/admin/staff/{staff.id}"
        assert post(client, f"{page}/deactivate", page=page).status_code == 302
        assert post(client, f"{page}/deactivate", page=page).status_code == 302  # already: refused
        assert post(client, f"{page}/reactivate", page=page).status_code == 302
        assert api.post(f"/staff/{staff.id}/deactivate", as_=admin).status_code == 200
        assert invoke(app, "users", "reactivate", staff.email).exit_code == 0
        assert invoke(app, "users", "deactivate", staff.email).exit_code == 0
    assert heard == [staff.id] * 3


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_users_list_invite_deactivate_reactivate_reset(session, app, create_user):
    create_user("admin", email="chef@example.se")
    invited = invoke(app, "users", "invite", "ny@example.se", "--role", "outreach", "--name", "Ny")
    assert invited.exit_code == 0, invited.output
    assert LINK.search(invited.output)
    listing = invoke(app, "users", "list", "--search", "ny@")
    assert "ny@example.se" in listing.output and "(no password yet)" in listing.output
    assert invoke(app, "users", "deactivate", "ny@example.se").exit_code == 0
    assert "deactivated" in invoke(app, "users", "list").output
    assert invoke(app, "users", "deactivate", "ny@example.se").exit_code == 2  # already
    assert invoke(app, "users", "reactivate", "ny@example.se").exit_code == 0
    reset = invoke(app, "users", "reset-password", "ny@example.se")
    assert reset.exit_code == 0 and LINK.search(reset.output)
    assert invoke(app, "users", "reset-2fa", "ny@example.se", "--reason", "lost phone").exit_code == 0
    types = [e.type for e in session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    assert types[:3] == ["user.invited", "user.deactivated", "user.reactivated"]
    assert {e.actor_label for e in session.scalars(select(TimelineEvent))} == {"admin-cli"}


def test_cli_tokens_list_and_revoke(session, app, create_user):
    user = create_user("coordinator", email="api@example.se")
    issued = create_token(session, user, "integration")
    session.commit()
    listing = invoke(app, "tokens", "list")
    assert f"{issued.record.id:>5}  api@example.se" in listing.output and "integration" in listing.output
    assert "expires 20" in listing.output
    assert invoke(app, "tokens", "revoke", issued.record.id).exit_code == 0
    assert user_for_token(session, issued.token) is None
    assert str(issued.record.id) not in invoke(app, "tokens", "list").output.split("  ")[0]
    assert invoke(app, "tokens", "revoke", 99999).exit_code == 2


# -- API -----------------------------------------------------------------------------------------


def test_api_staff_administration_for_admins(session, api, create_user, create_district, create_team):
    admin = create_user("admin")
    create_user("admin")  # a second admin, so the first may be changed
    district = create_district("majorna-linne")
    invited = api.post("/staff", as_=admin, json={"email": "api.ny@example.se", "roles": ["outreach"],
                                                   "district_id": district.id})
    assert invited.status_code == 201, invited.json
    user_id = invited.json["user"]["id"]
    assert "/account/link/" in invited.json["invite_url"]
    changed = api.patch(f"/staff/{user_id}", as_=admin, json={"language": "en", "phone": "+46701740653"})
    assert changed.status_code == 200 and changed.json["language"] == "en"
    assert api.post(f"/staff/{user_id}/deactivate", as_=admin).json["active"] is False
    assert api.post(f"/staff/{user_id}/reactivate", as_=admin).json["active"] is True
    assert "/account/link/" in api.post(f"/staff/{user_id}/reset-password", as_=admin).json["reset_url"]
    assert api.post(f"/staff/{user_id}/reset-2fa", as_=admin).status_code == 200
    team = create_team(district, [])
    members = api.put(f"/teams/{team.id}/members", as_=admin, json={"user_ids": [user_id, admin.id]})
    assert members.json["user_ids"] == [user_id, admin.id]
    page = api.get("/staff?limit=1", as_=admin).json
    assert len(page["items"]) == 1 and page["has_more"] and page["next_after"] == page["items"][0]["id"]
    assert api.get("/staff?limit=201", as_=admin).status_code == 422
    search = api.get("/staff?q=api.ny", as_=admin).json
    assert [u["id"] for u in search["items"]] == [user_id]


@pytest.mark.parametrize("method,path", [
    ("GET", "/staff"), ("POST", "/staff"), ("PATCH", "/staff/1"), ("POST", "/staff/1/deactivate"),
    ("POST", "/staff/1/reactivate"), ("POST", "/staff/1/reset-password"), ("POST", "/staff/1/reset-2fa"),
    ("PUT", "/teams/1/members"),
])
def test_api_staff_administration_is_refused_to_coordinators(session, api, create_user, method, path):
    coordinator = create_user("coordinator")
    response = api.request(method, path, as_=coordinator, json={})
    assert response.status_code == 403


def test_api_tokens_list_and_revoke(session, api, create_user):
    user = create_user("coordinator")
    other = create_user("outreach")
    admin = create_user("admin")
    theirs = create_token(session, other, "theirs")
    session.commit()
    mine = api.get("/tokens", as_=user).json["items"]
    assert {t["user_id"] for t in mine} == {user.id}
    assert all(t["expires_at"] for t in mine)
    assert api.request("DELETE", f"/tokens/{theirs.record.id}", as_=user).status_code == 404
    assert {t["user_id"] for t in api.get(f"/tokens?user_id={other.id}", as_=admin).json["items"]} == {other.id}
    assert api.request("DELETE", f"/tokens/{theirs.record.id}", as_=admin).status_code == 204
    assert user_for_token(session, theirs.token) is None


def test_districts_and_teams_are_readable_by_coordinators(session, api, create_user, create_district, create_team):
    district = create_district("angered", name="Angered")
    member = create_user("outreach")
    team = create_team(district, [member])
    coordinator = create_user("coordinator")
    districts = api.get("/districts", as_=coordinator)
    assert districts.status_code == 200
    assert [d["code"] for d in districts.json["items"]] == ["angered"]
    teams = api.get(f"/teams?district_id={district.id}", as_=coordinator).json["items"]
    assert teams == [{"id": team.id, "name": team.name, "district_id": district.id, "is_sig": team.is_sig,
                      "member_ids": [member.id], "on_call_user_id": None}]
    assert api.get("/districts?limit=500", as_=coordinator).status_code == 422
    assert api.get("/districts", as_=member).status_code == 403


def test_invitation_by_sms_carries_the_link_and_no_name(session, app, create_user):
    from crisis.messaging.models import Message

    create_user("admin")
    result = invoke(app, "users", "invite", "sms@example.se", "--role", "outreach", "--name", "Sara Sms",
                    "--phone", "070-174 06 71", "--sms")
    assert result.exit_code == 0, result.output
    [message] = session.scalars(select(Message)).all()
    link = LINK.search(result.output).group(0)
    assert message.to_number == "+46701740671" and link in message.body
    assert "Sara" not in message.body and message.purpose == "invite"
    without_phone = invoke(app, "users", "invite", "nophone@example.se", "--role", "outreach", "--sms")
    assert without_phone.exit_code == 2 and "utan mobilnummer" in without_phone.output
