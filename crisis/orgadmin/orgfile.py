"""A city's organisation as validated YAML: districts, teams, support organisations, default playbooks.

The format (organisation/README.md) is checked here; every problem is
reported as ``file:line: path: message`` so a city's administrator can fix
the file without reading code. `crisis org apply` (crisis.orgadmin.apply)
writes a valid file to the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ORGANISATION_KINDS = ("civil_society", "health_care", "municipal", "authority")
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
TOP_KEYS = ("city", "districts", "teams", "support_organisations", "default_playbooks")
DISTRICT_KEYS = ("code", "name", "own_sig", "sig_served_by")
TEAM_KEYS = ("district", "name", "sig")
ORGANISATION_KEYS = ("code", "name", "kind", "url", "phone", "for_children", "description")


@dataclass(frozen=True)
class OrgIssue:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}" if self.path else \
            f"{self.file}:{self.line}: {self.message}"


class OrgFileError(Exception):
    def __init__(self, issues: list[OrgIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(map(str, self.issues)))


@dataclass
class OrgFile:
    path: str
    city: str
    districts: list[dict] = field(default_factory=list)
    teams: list[dict] = field(default_factory=list)
    organisations: list[dict] = field(default_factory=list)
    default_playbooks: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


class _Loader(yaml.SafeLoader):
    """Only true/false are booleans, dates stay text (as in playbooks)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _plain(node: yaml.Node, path: str, lines: dict[str, int], issues: list[OrgIssue], filename: str) -> Any:
    """The node as Python values, recording each path's 1-based line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            sub = f"{path}.{key}" if path else str(key)
            if key in out:
                issues.append(OrgIssue(filename, key_node.start_mark.line + 1, sub,
                                       f"'{key}' is given twice; keep one"))
            out[key] = _plain(value_node, sub, lines, issues, filename)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, f"{path}[{i}]", lines, issues, filename) for i, item in enumerate(node.value)]
    return _Loader("").construct_object(node, deep=True)


def load_org_text(text: str, filename: str = "<text>", playbooks: list | None = None) -> OrgFile:
    """The validated organisation, or OrgFileError listing every problem with its line.

    `playbooks`: the playbooks available (crisis.playbooks.loader.Playbook), to check the defaults.
    """
    issues: list[OrgIssue] = []
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise OrgFileError([OrgIssue(filename, line, "", f"not valid YAML: {error.problem}")]) from None
    if root is None:
        raise OrgFileError([OrgIssue(filename, 1, "", "the file is empty; it starts with city: and districts:")])
    lines: dict[str, int] = {}
    data = _plain(root, "", lines, issues, filename)
    if not isinstance(data, dict):
        raise OrgFileError([OrgIssue(filename, 1, "", "the file is a mapping (city:, districts:, teams: ...)")])

    def problem(path: str, message: str) -> None:
        key = path
        while key and key not in lines:
            key = key.rsplit(".", 1)[0] if "." in key else ""
        issues.append(OrgIssue(filename, lines.get(key, 1), path, message))

    for key in data:
        if key not in TOP_KEYS:
            problem(key, f"unknown key '{key}'; use: {', '.join(TOP_KEYS)}")
    city = data.get("city")
    if not isinstance(city, str) or not city.strip():
        problem("city", "name the city, e.g. city: Göteborg")
    org = OrgFile(path=filename, city=str(city or "").strip(), lines=lines)

    # -- districts
    districts = data.get("districts")
    if not isinstance(districts, list) or not districts:
        problem("districts", "list the city's districts (code, name, own_sig or sig_served_by)")
        districts = []
    codes: dict[str, int] = {}
    names: set[str] = set()
    for i, d in enumerate(districts):
        path = f"districts[{i}]"
        if not isinstance(d, dict):
            problem(path, "a district is a mapping with code and name")
            continue
        for key in d:
            if key not in DISTRICT_KEYS:
                problem(f"{path}.{key}", f"unknown key '{key}'; use: {', '.join(DISTRICT_KEYS)}")
        code, name = d.get("code"), d.get("name")
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            problem(f"{path}.code", "code is lower-case letters, digits and '-', e.g. code: majorna-linne")
        elif code in codes:
            problem(f"{path}.code", f"district code '{code}' is used twice")
        else:
            codes[code] = i
        if not isinstance(name, str) or not name.strip():
            problem(f"{path}.name", "give the district's name")
        elif name in names:
            problem(f"{path}.name", f"district name '{name}' is used twice")
        else:
            names.add(name)
        own = d.get("own_sig", False)
        if not isinstance(own, bool):
            problem(f"{path}.own_sig", "own_sig is true or false")
        served = d.get("sig_served_by")
        if own and served:
            problem(f"{path}.sig_served_by", "a district with its own SIG is not served by another; remove one")
        if not own and not served:
            problem(path, "say own_sig: true, or sig_served_by: <district code> whose SIG serves it")
        org.districts.append({"code": code, "name": (name or "").strip() if isinstance(name, str) else "",
                              "own_sig": bool(own), "sig_served_by": served, "_path": path})
    for d in org.districts:
        served = d["sig_served_by"]
        if served and not d["own_sig"]:
            target = next((x for x in org.districts if x["code"] == served), None)
            if target is None:
                problem(f"{d['_path']}.sig_served_by", f"no district with code '{served}' in this file")
            elif not target["own_sig"]:
                problem(f"{d['_path']}.sig_served_by", f"district '{served}' has no SIG of its own to serve others")

    # -- teams
    teams = data.get("teams") or []
    if not isinstance(teams, list):
        problem("teams", "teams is a list of {district, name}")
        teams = []
    seen_teams: set[tuple] = set()
    for i, t in enumerate(teams):
        path = f"teams[{i}]"
        if not isinstance(t, dict):
            problem(path, "a team is a mapping with district and name")
            continue
        for key in t:
            if key not in TEAM_KEYS:
                problem(f"{path}.{key}", f"unknown key '{key}'; use: {', '.join(TEAM_KEYS)}")
        district, name = t.get("district"), t.get("name")
        if district not in codes:
            problem(f"{path}.district", f"no district with code '{district}' in this file")
        if not isinstance(name, str) or not name.strip():
            problem(f"{path}.name", "give the team's name")
        elif (district, name.strip()) in seen_teams:
            problem(f"{path}.name", f"team '{name}' is listed twice in {district}")
        else:
            seen_teams.add((district, name.strip()))
        org.teams.append({"district": district, "name": (name or "").strip() if isinstance(name, str) else "",
                          "sig": t.get("sig"), "_path": path})

    # -- support organisations
    organisations = data.get("support_organisations") or []
    if not isinstance(organisations, list):
        problem("support_organisations", "support_organisations is a list")
        organisations = []
    org_codes: set[str] = set()
    for i, o in enumerate(organisations):
        path = f"support_organisations[{i}]"
        if not isinstance(o, dict):
            problem(path, "an organisation is a mapping with code, name and kind")
            continue
        for key in o:
            if key not in ORGANISATION_KEYS:
                problem(f"{path}.{key}", f"unknown key '{key}'; use: {', '.join(ORGANISATION_KEYS)}")
        code = o.get("code")
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            problem(f"{path}.code", "code is lower-case letters, digits and '-', e.g. code: brottsofferjouren")
        elif code in org_codes:
            problem(f"{path}.code", f"organisation code '{code}' is used twice")
        else:
            org_codes.add(code)
        if not isinstance(o.get("name"), str) or not o["name"].strip():
            problem(f"{path}.name", "give the organisation's name")
        if o.get("kind") not in ORGANISATION_KINDS:
            problem(f"{path}.kind", f"kind is one of: {', '.join(ORGANISATION_KINDS)}")
        url = o.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
            problem(f"{path}.url", "url starts with https://")
        phone = o.get("phone")
        if phone is not None and not isinstance(phone, str | int):
            problem(f"{path}.phone", "phone is text, e.g. phone: \"116 006\"")
        if not isinstance(o.get("for_children", False), bool):
            problem(f"{path}.for_children", "for_children is true or false")
        description = o.get("description") or {}
        if not isinstance(description, dict) or any(k not in ("sv", "en") for k in description):
            problem(f"{path}.description", "description is {sv: ..., en: ...}")
            description = {}
        org.organisations.append({
            "code": code, "name": str(o.get("name") or "").strip(), "kind": o.get("kind"),
            "url": url, "phone": str(phone) if phone is not None else None,
            "for_children": bool(o.get("for_children", False)), "description": description, "_path": path,
        })

    # -- default playbooks
    from crisis.incidents.models import IncidentType

    defaults = data.get("default_playbooks") or {}
    if not isinstance(defaults, dict):
        problem("default_playbooks", "default_playbooks maps an incident type to a playbook id")
        defaults = {}
    types = [t.value for t in IncidentType]
    by_id = {p.id: p for p in playbooks} if playbooks is not None else None
    for incident_type, playbook_id in defaults.items():
        path = f"default_playbooks.{incident_type}"
        if incident_type not in types:
            problem(path, f"unknown incident type '{incident_type}'; use: {', '.join(types)}")
            continue
        if by_id is not None:
            playbook = by_id.get(playbook_id)
            if playbook is None:
                problem(path, f"no playbook with id '{playbook_id}'; known: {', '.join(sorted(by_id)) or 'none'}")
                continue
            if incident_type not in playbook.content.get("applies_to", []):
                problem(path, f"playbook '{playbook_id}' does not apply to {incident_type}")
                continue
        org.default_playbooks[incident_type] = str(playbook_id)
    if playbooks is not None:
        for incident_type in types:
            applying = sorted(p.id for p in playbooks if incident_type in p.content.get("applies_to", []))
            if len(applying) > 1 and incident_type not in defaults:
                problem("default_playbooks",
                        f"{len(applying)} playbooks apply to {incident_type} ({', '.join(applying)}) and none is "
                        f"named the default; add {incident_type}: <playbook id> under default_playbooks")
    if issues:
        raise OrgFileError(sorted(issues, key=lambda i: i.line))
    return org


def load_org_file(path: str | Path, playbooks: list | None = None) -> OrgFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OrgFileError([OrgIssue(str(path), 1, "", f"cannot read the file: {error}")]) from None
    return load_org_text(text, str(path), playbooks)
