"""Demo data for `make run`: Stockholm's districts, fictional staff, teams, support organisations.

Idempotent: rows are found by their natural keys (district code, e-mail,
team name, organisation code) and only missing ones are added, so running it
twice changes nothing. All people are fictional; phone numbers are from the
range PTS reserves for fiction (070-174 06 05 … 070-174 06 99).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.auth.services import create_user
from crisis.core.config import PROJECT_ROOT
from crisis.organisation.models import District, Team, TeamMember

# Districts, teams, support organisations and default playbooks come from
# Stockholm's organisation file, as a real city's would (`crisis org apply`).
ORGANISATION_FILE = PROJECT_ROOT / "organisation" / "stockholm.yaml"

# (email, name, roles, district, phone, password)
USERS: list[tuple[str, str, list[str], str, str | None, str]] = [
    ("samordnare@demo.crisis.se", "Sara Samordnare", ["coordinator"], "farsta", "+46701740605", "demo-samordnare"),
    ("samordnare.rk@demo.crisis.se", "Rami Samordnare", ["coordinator"], "rinkeby-kista", "+46701740606", "demo-samordnare"),
    ("uppsokare1@demo.crisis.se", "Ulla Uppsökare", ["outreach"], "farsta", "+46701740610", "demo-uppsokare"),
    ("uppsokare2@demo.crisis.se", "Omar Uppsökare", ["outreach"], "farsta", "+46701740611", "demo-uppsokare"),
    ("uppsokare3@demo.crisis.se", "Lina Uppsökare", ["outreach"], "farsta", "+46701740612", "demo-uppsokare"),
    ("uppsokare4@demo.crisis.se", "Ahmed Uppsökare", ["outreach"], "rinkeby-kista", "+46701740613", "demo-uppsokare"),
    ("uppsokare5@demo.crisis.se", "Maja Uppsökare", ["outreach"], "rinkeby-kista", "+46701740614", "demo-uppsokare"),
    ("anhorigkonsulent@demo.crisis.se", "Karin Anhörigkonsulent", ["outreach"], "sodermalm", "+46701740615", "demo-uppsokare"),
    ("chef@demo.crisis.se", "Maria Chef", ["manager"], "farsta", None, "demo-chef-123"),
    ("admin@demo.crisis.se", "Adam Admin", ["admin"], "farsta", None, "demo-admin-123"),
]

# (district, team name, members in on-call order)
TEAMS: list[tuple[str, str, list[str]]] = [
    ("farsta", "SIG Farsta uppsökande", ["uppsokare1@demo.crisis.se", "uppsokare2@demo.crisis.se",
                                        "uppsokare3@demo.crisis.se"]),
    ("rinkeby-kista", "SIG Rinkeby-Kista uppsökande", ["uppsokare4@demo.crisis.se",
                                                      "uppsokare5@demo.crisis.se"]),
]

def load_demo(session: Session) -> list[str]:
    report: list[str] = []
    districts = _load_organisation(session, report)
    users = _load_users(session, districts, report)
    _load_teams(session, districts, users, report)
    session.flush()
    _load_demo_incident(session, districts, users, report)
    if not report:
        report.append("Demo data already loaded; nothing changed.")
    report.append("Demo logins (e-mail / password):")
    for email, _name, roles, _district, _phone, password in USERS:
        report.append(f"  {email:34} {password:18} {', '.join(roles)}")
    return report


def _load_organisation(session: Session, report: list[str]) -> dict[str, District]:
    from crisis.orgadmin.apply import apply_organisation
    from crisis.orgadmin.orgfile import load_org_file

    report.extend(apply_organisation(session, load_org_file(ORGANISATION_FILE), actor="demo").changes)
    return {d.code: d for d in session.scalars(select(District))}


def _load_users(session: Session, districts: dict[str, District], report: list[str]) -> dict[str, User]:
    existing = {u.email: u for u in session.scalars(select(User))}
    for email, name, roles, district, phone, password in USERS:
        if email not in existing:
            existing[email] = create_user(
                session, email=email, roles=roles, name=name, password=password, phone=phone,
                district_id=districts[district].id,
            )
            report.append(f"Added user {email} ({', '.join(roles)}).")
    return existing


def _load_teams(session, districts, users, report) -> None:
    """Demo members (in on-call order) for the teams the organisation file declares."""
    for district_code, name, members in TEAMS:
        district = districts[district_code]
        team = session.scalar(select(Team).where(Team.district_id == district.id, Team.name == name))
        if team is None:
            team = Team(name=name, district=district, is_sig=district.has_own_sig)
            session.add(team)
        if not team.members:
            team.members = [TeamMember(user=users[email], position=i) for i, email in enumerate(members, 1)]
            report.append(f"Added members to team {name}.")


DEMO_POLICE_REFERENCE = "DEMO-0001"


def _load_demo_incident(session: Session, districts, users, report: list[str]) -> None:
    """One active response in Farsta, so the pages and the dashboard have something to show."""
    from datetime import timedelta

    from crisis.core.db import utcnow
    from crisis.incidents.models import Incident
    from crisis.incidents.services import (
        activate_incident,
        add_relative,
        record_consent,
        set_contact_person,
    )

    # The police reference is encrypted (issue 14): compare in Python, not in SQL.
    if any(ref == DEMO_POLICE_REFERENCE for ref in session.scalars(select(Incident.police_reference))):
        return
    coordinator = users["samordnare@demo.crisis.se"]
    incident = activate_incident(
        session, actor=coordinator, type="shooting", occurred_at=utcnow() - timedelta(hours=3),
        district_id=districts["farsta"].id, playbook_id="stockholm-skjutning", outcome="injured",
        threat_level="raised", police_reference=DEMO_POLICE_REFERENCE, place="Farsta centrum",
    )
    mother = add_relative(session, incident, actor=coordinator, relation="parent", age_band="26-64",
                          gender="woman", name="Demo Mamma", phone="+46701740690", language="so",
                          interpreter_needed=True)
    record_consent(session, mother, actor=coordinator, state="given", scope=["contact", "sms", "referral"])
    set_contact_person(session, mother, actor=coordinator, user_id=users["uppsokare1@demo.crisis.se"].id)
    add_relative(session, incident, actor=coordinator, relation="sibling", is_child=True, age_band="13-17",
                 gender="man", name="Demo Lillebror")
    report.append(f"Added demo response {incident.reference} (Farsta, shooting) with two relatives.")
