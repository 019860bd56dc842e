"""Write a validated organisation file to the database, idempotently.

What a file no longer lists is removed, unless incidents, staff, teams or
referrals still use it: then nothing at all is written and the refusal says
what uses it. Renaming a district or organisation in use is refused too
(reports and timelines name it); a new code is a new district.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.orgadmin.orgfile import OrgFile, OrgFileError, OrgIssue, load_org_file
from crisis.organisation.models import DefaultPlaybook, District, Team, TeamMember
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.timeline.services import record_event


@dataclass
class ApplyResult:
    changes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refusals


class OrgApplyRefused(Exception):
    def __init__(self, refusals: list[str]):
        self.refusals = refusals
        super().__init__("\n".join(refusals))


def _count(session: Session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _district_users(session: Session, district: District) -> list[str]:
    from crisis.auth.models import User
    from crisis.incidents.models import Incident

    uses = []
    n = _count(session, select(Incident.id).where(Incident.district_id == district.id))
    if n:
        uses.append(f"{n} incident(s)")
    n = _count(session, select(User.id).where(User.district_id == district.id))
    if n:
        uses.append(f"{n} staff account(s)")
    # Teams and served districts: the file keeps none of them without this district
    # (validated), and a team in use is refused on its own.
    return uses


def _team_users(session: Session, team: Team) -> list[str]:
    from crisis.dispatch.models import Dispatch

    uses = []
    n = _count(session, select(TeamMember.user_id).where(TeamMember.team_id == team.id))
    if n:
        uses.append(f"{n} member(s)")
    n = _count(session, select(Dispatch.id).where(Dispatch.team_id == team.id))
    if n:
        uses.append(f"{n} dispatch(es)")
    return uses


def apply_organisation(session: Session, org: OrgFile, *, actor=None) -> ApplyResult:
    """Make the database match `org`; raises OrgApplyRefused (nothing written) if something in use would go."""
    result = ApplyResult()
    changes, refusals = result.changes, result.refusals
    existing = {d.code: d for d in session.scalars(select(District))}
    wanted = {d["code"]: d for d in org.districts}

    # Districts: remove first (refusing those in use), then add and update.
    for code, district in existing.items():
        if code not in wanted:
            uses = _district_users(session, district)
            if uses:
                refusals.append(f"District {code} ({district.name}) is not in the file but is used by "
                                f"{', '.join(uses)}; keep it in the file.")
    for code, spec in wanted.items():
        district = existing.get(code)
        if district is not None and district.name != spec["name"]:
            uses = _district_users(session, district)
            if uses:
                refusals.append(f"District {code} would be renamed from {district.name!r} to {spec['name']!r} "
                                f"but is used by {', '.join(uses)}; keep its name.")
    teams_now = {(t.district.code, t.name): t for t in session.scalars(select(Team))}
    teams_wanted = {(t["district"], t["name"]): t for t in org.teams}
    for key, team in teams_now.items():
        if key not in teams_wanted:
            uses = _team_users(session, team)
            if uses:
                refusals.append(f"Team {team.name!r} ({key[0]}) is not in the file but has {', '.join(uses)}; "
                                "keep it in the file.")
    orgs_now = {o.code: o for o in session.scalars(select(SupportOrganisation))}
    orgs_wanted = {o["code"]: o for o in org.organisations}
    for code, organisation in orgs_now.items():
        referrals = _count(session, select(Referral.id).where(Referral.organisation_id == organisation.id))
        if code not in orgs_wanted and referrals:
            refusals.append(f"Support organisation {code} is not in the file but {referrals} referral(s) name it; "
                            "keep it in the file.")
        elif code in orgs_wanted and referrals and organisation.name != orgs_wanted[code]["name"]:
            refusals.append(f"Support organisation {code} would be renamed from {organisation.name!r} to "
                            f"{orgs_wanted[code]['name']!r} but {referrals} referral(s) name it; keep its name.")
    if refusals:
        raise OrgApplyRefused(refusals)

    # Removals (none of them in use).
    for key, team in teams_now.items():
        if key not in teams_wanted:
            session.delete(team)
            changes.append(f"Removed team {team.name} ({key[0]}).")
    session.flush()
    for code, district in existing.items():
        if code not in wanted:
            district.sig_served_by_id = None
    session.flush()
    for code, district in list(existing.items()):
        if code not in wanted:
            session.delete(district)
            del existing[code]
            changes.append(f"Removed district {code}.")
    for code, organisation in orgs_now.items():
        if code not in orgs_wanted:
            session.delete(organisation)
            changes.append(f"Removed support organisation {code}.")
    session.flush()

    # Districts: add, rename, and SIG arrangements.
    for code, spec in wanted.items():
        district = existing.get(code)
        if district is None:
            district = District(code=code, name=spec["name"], has_own_sig=spec["own_sig"])
            session.add(district)
            existing[code] = district
            changes.append(f"Added district {code} ({spec['name']}).")
        elif district.name != spec["name"]:
            changes.append(f"Renamed district {code} from {district.name} to {spec['name']}.")
            district.name = spec["name"]
    session.flush()
    for code, spec in wanted.items():
        district = existing[code]
        served_by = existing[spec["sig_served_by"]].id if spec["sig_served_by"] else None
        if district.has_own_sig != spec["own_sig"] or district.sig_served_by_id != served_by:
            district.sig_served_by_id = None
            district.has_own_sig = spec["own_sig"]
            session.flush()
            district.sig_served_by_id = served_by
            how = "has its own SIG" if spec["own_sig"] else f"is served by the SIG of {spec['sig_served_by']}"
            if not any(c.startswith(f"Added district {code} ") for c in changes):
                changes.append(f"District {code} now {how}.")
    session.flush()

    for key, spec in teams_wanted.items():
        district = existing[spec["district"]]
        is_sig = spec["sig"] if isinstance(spec["sig"], bool) else district.has_own_sig
        team = teams_now.get(key)
        if team is None:
            session.add(Team(name=spec["name"], district_id=district.id, is_sig=is_sig))
            changes.append(f"Added team {spec['name']} ({spec['district']}).")
        elif team.is_sig != is_sig:
            team.is_sig = is_sig
            changes.append(f"Team {spec['name']} is {'now' if is_sig else 'no longer'} a SIG team.")

    fields = ("name", "kind", "url", "phone", "for_children", "description")
    for code, spec in orgs_wanted.items():
        organisation = orgs_now.get(code)
        values = {f: spec[f] for f in fields}
        if organisation is None:
            session.add(SupportOrganisation(code=code, active=True, **values))
            changes.append(f"Added support organisation {code}.")
            continue
        changed = [f for f in fields if getattr(organisation, f) != values[f]]
        for f in changed:
            setattr(organisation, f, values[f])
        if changed:
            changes.append(f"Updated support organisation {code} ({', '.join(changed)}).")

    defaults_now = {d.incident_type: d for d in session.scalars(select(DefaultPlaybook))}
    for incident_type, playbook_id in org.default_playbooks.items():
        row = defaults_now.get(incident_type)
        if row is None:
            session.add(DefaultPlaybook(incident_type=incident_type, playbook_id=playbook_id))
            changes.append(f"Default playbook for {incident_type}: {playbook_id}.")
        elif row.playbook_id != playbook_id:
            row.playbook_id = playbook_id
            changes.append(f"Default playbook for {incident_type}: {playbook_id}.")
    for incident_type, row in defaults_now.items():
        if incident_type not in org.default_playbooks:
            session.delete(row)
            changes.append(f"No default playbook for {incident_type} any more.")
    session.flush()
    if changes:
        record_event(session, kind="staff", type="organisation.applied", actor=actor or "admin-cli",
                     summary=f"Organisation file for {org.city} applied ({len(changes)} changes)",
                     data={"city": org.city, "file": Path(org.path).name, "changes": len(changes)})
    return result


def playbook_version_issues(session: Session, playbooks) -> list[OrgIssue]:
    """A playbook whose content changed while its version stayed that of a snapshot already pinned."""
    from crisis.playbooks.loader import _top_level_key_line
    from crisis.playbooks.models import PlaybookSnapshot

    issues = []
    for playbook in playbooks:
        pinned = session.scalars(
            select(PlaybookSnapshot).where(PlaybookSnapshot.playbook_id == playbook.id,
                                           PlaybookSnapshot.version == playbook.version)
        ).all()
        if any(s.content_hash != playbook.content_hash for s in pinned):
            issues.append(OrgIssue(
                playbook.path, _top_level_key_line(playbook.source_text, "version"), "version",
                f"playbook {playbook.id} changed but its version is still {playbook.version}, which incidents "
                f"have already pinned; raise version to {max(s.version for s in pinned) + 1}",
            ))
    return issues


def check_org_file(session: Session | None, path: str | Path, playbook_dir: Path) -> OrgFile:
    """Load and check the file against the playbooks (and, with a session, the pinned snapshots)."""
    from crisis.playbooks.loader import PlaybookError, load_directory

    try:
        playbooks = load_directory(playbook_dir)
    except PlaybookError as error:
        raise OrgFileError([OrgIssue(i.file, i.line, i.path, i.message) for i in error.issues
                            if i.severity == "error"]) from None
    issues: list[OrgIssue] = []
    org = None
    try:
        org = load_org_file(path, playbooks)
    except OrgFileError as error:
        issues.extend(error.issues)
    if session is not None:
        issues.extend(playbook_version_issues(session, playbooks))
    if issues:
        raise OrgFileError(issues)
    return org
