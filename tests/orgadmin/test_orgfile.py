"""The city's organisation as validated data: `crisis org validate|apply`."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crisis.cli import main
from crisis.core.config import PROJECT_ROOT, ConfigError, load_settings
from crisis.core.db import utcnow
from crisis.orgadmin.apply import OrgApplyRefused, apply_organisation, playbook_version_issues
from crisis.orgadmin.orgfile import OrgFileError, load_org_file, load_org_text
from crisis.organisation.models import DefaultPlaybook, District, Team
from crisis.playbooks.loader import load_directory
from crisis.referrals.models import SupportOrganisation
from crisis.timeline.models import TimelineEvent

STOCKHOLM = PROJECT_ROOT / "organisation" / "stockholm.yaml"
GOTEBORG = PROJECT_ROOT / "organisation" / "goteborg.yaml"
PLAYBOOKS = load_directory(PROJECT_ROOT / "playbooks")


def invoke(app, *args):
    return app.test_cli_runner().invoke(main, [str(a) for a in args], catch_exceptions=False)


BROKEN = """city: Testby
districts:
  - code: norr
    name: Norr
    own_sig: true
  - code: Söder
    name: Söder
    sig_served_by: väster
teams:
  - district: öster
    name: Team Öster
support_organisations:
  - code: jouren
    name: Jouren
    kind: charity
default_playbooks:
  stabbing: stockholm-skjutning
"""


def test_validate_reports_each_error_with_file_and_line(app, tmp_path):
    path = tmp_path / "testby.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    result = invoke(app, "org", "validate", path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{path}:6: districts[1].code: code is lower-case letters, digits and '-', e.g. code: majorna-linne" in lines
    assert any(line.startswith(f"{path}:8: districts[1].sig_served_by: no district with code 'väster'")
               for line in lines)
    assert any(line.startswith(f"{path}:10: teams[0].district: no district with code 'öster'") for line in lines)
    assert any(line.startswith(f"{path}:15: support_organisations[0].kind: kind is one of") for line in lines)
    assert any(line.startswith(f"{path}:17: default_playbooks.stabbing: unknown incident type") for line in lines)


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(OrgFileError) as error:
        load_org_text("city: X\ndistricts:\n  - code: a\n   name: [\n", "x.yaml", PLAYBOOKS)
    assert str(error.value).startswith("x.yaml:4:")


def test_two_playbooks_for_one_type_without_a_default_is_an_error():
    second = dataclasses.replace(PLAYBOOKS[0], id="annan-plan")
    text = STOCKHOLM.read_text(encoding="utf-8").split("default_playbooks:")[0]
    with pytest.raises(OrgFileError) as error:
        load_org_text(text, "stockholm.yaml", [*PLAYBOOKS, second])
    assert "2 playbooks apply to" in str(error.value)
    assert "none is named the default" in str(error.value)
    # Naming the default settles it.
    org = load_org_text(STOCKHOLM.read_text(encoding="utf-8"), "stockholm.yaml", [*PLAYBOOKS, second])
    assert org.default_playbooks["shooting"] == "stockholm-skjutning"


def test_changed_playbook_with_unchanged_version_is_an_error(app, session, create_snapshot):
    skjutning = next(p for p in PLAYBOOKS if p.id == "stockholm-skjutning")
    create_snapshot({**skjutning.content, "title": {"sv": "Äldre text", "en": "Older text"}},
                    playbook_id="stockholm-skjutning")
    issues = playbook_version_issues(session, PLAYBOOKS)
    assert len(issues) == 1
    assert issues[0].file.endswith("skjutning.yaml")
    assert issues[0].line == next(i for i, line in enumerate(skjutning.source_text.splitlines(), 1)
                                  if line.startswith("version:"))
    assert "raise version to 2" in issues[0].message
    result = invoke(app, "org", "validate", STOCKHOLM)
    assert result.exit_code == 1
    assert "skjutning.yaml" in result.output


def test_apply_is_idempotent_and_prints_changes(app, session):
    first = invoke(app, "org", "apply", STOCKHOLM)
    assert first.exit_code == 0, first.output
    assert "Added district farsta (Farsta)." in first.output
    assert "Default playbook for shooting: stockholm-skjutning." in first.output
    counts = [session.scalar(select(func.count()).select_from(m))
              for m in (District, Team, SupportOrganisation, DefaultPlaybook)]
    assert counts == [13, 2, 10, 3]
    second = invoke(app, "org", "apply", STOCKHOLM)
    assert second.exit_code == 0
    assert "nothing changed" in second.output
    assert [session.scalar(select(func.count()).select_from(m))
            for m in (District, Team, SupportOrganisation, DefaultPlaybook)] == counts
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.type == "organisation.applied")).all()
    assert len(events) == 1 and events[0].data["changes"] > 0


def test_apply_refuses_to_remove_or_rename_what_is_in_use(app, session, create_incident, create_user, tmp_path):
    apply_organisation(session, load_org_file(STOCKHOLM, PLAYBOOKS))
    session.commit()
    farsta = session.scalar(select(District).where(District.code == "farsta"))
    create_incident(district=farsta)
    create_user("outreach", district=farsta)
    text = STOCKHOLM.read_text(encoding="utf-8")
    without = text.replace("  - code: farsta\n    name: Farsta\n    own_sig: true\n", "") \
        .replace("sig_served_by: farsta", "sig_served_by: skarpnack") \
        .replace("  - district: farsta\n    name: SIG Farsta uppsökande\n", "")
    path = tmp_path / "utan-farsta.yaml"
    path.write_text(without, encoding="utf-8")
    result = invoke(app, "org", "apply", path)
    assert result.exit_code == 1
    assert "Refused: District farsta (Farsta) is not in the file but is used by 1 incident(s)" in result.output
    assert "Nothing was changed." in result.output
    session.expire_all()
    assert session.scalar(select(District).where(District.code == "farsta")) is not None
    assert session.scalar(select(Team).where(Team.name == "SIG Farsta uppsökande")) is not None
    renamed = tmp_path / "farsta-nytt-namn.yaml"
    renamed.write_text(text.replace("name: Farsta\n", "name: Farsta stadsdel\n"), encoding="utf-8")
    with pytest.raises(OrgApplyRefused) as refused:
        apply_organisation(session, load_org_file(renamed, PLAYBOOKS))
    session.rollback()
    assert "would be renamed from 'Farsta' to 'Farsta stadsdel'" in str(refused.value)


def test_apply_removes_what_nobody_uses(app, session, tmp_path):
    apply_organisation(session, load_org_file(STOCKHOLM, PLAYBOOKS))
    session.commit()
    text = STOCKHOLM.read_text(encoding="utf-8").replace(
        "  - district: rinkeby-kista\n    name: SIG Rinkeby-Kista uppsökande\n", "")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke(app, "org", "apply", path)
    assert result.exit_code == 0, result.output
    assert "Removed team SIG Rinkeby-Kista uppsökande (rinkeby-kista)." in result.output


def test_second_city_on_a_fresh_database_activates_a_response_without_demo_data(app, session, client):
    assert invoke(app, "org", "apply", GOTEBORG).exit_code == 0
    assert session.scalar(select(District).where(District.code == "farsta")) is None
    created = invoke(app, "users", "create", "samordnare@goteborg.example", "--role", "coordinator",
                     "--password", "ett langt losenord", "--district", "angered")
    assert created.exit_code == 0, created.output
    token = invoke(app, "tokens", "create", "samordnare@goteborg.example").output.strip()
    angered = session.scalar(select(District).where(District.code == "angered"))
    response = client.post("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}, json={
        "type": "lethal_violence", "district_id": angered.id,
        "occurred_at": (utcnow() - timedelta(hours=1)).isoformat(), "outcome": "deceased",
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["playbook"]["id"] == "stockholm-dodligt-vald"
    assert body["district"]["id"] == angered.id


def test_demo_refuses_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "CRISIS_ENV", "production")
    result = invoke(app, "demo")
    assert result.exit_code == 1
    assert "Refusing to load demo data with CRISIS_ENV=production" in result.output
    assert "Going live" in result.output


@pytest.mark.parametrize("value", ["prod", "staging", "dev"])
def test_unknown_crisis_env_is_refused(value):
    with pytest.raises(ConfigError) as error:
        load_settings({"CRISIS_ENV": value}, instance_path=Path("/tmp"))
    assert f"CRISIS_ENV must be one of development, test, production, not '{value}'" in str(error.value)
