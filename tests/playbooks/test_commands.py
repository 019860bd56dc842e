import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crisis.playbooks.commands import playbooks_cli

from .factories import FIXTURES, REPO_PLAYBOOKS, fixture_text


@pytest.fixture
def run(monkeypatch):
    """Run `crisis playbooks ...` against the repository's playbooks directory."""
    monkeypatch.setenv("CRISIS_PLAYBOOK_DIR", str(REPO_PLAYBOOKS))

    def run(*args):
        return CliRunner().invoke(playbooks_cli, [str(arg) for arg in args])

    return run


def test_validate_defaults_to_the_playbooks_directory(run):
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.output == "3 playbook file(s) valid, 0 warning(s)\n"


def test_validate_finds_playbooks_under_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("CRISIS_PLAYBOOK_DIR", raising=False)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "broken.yaml").write_text(
        fixture_text("broken.yaml"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(playbooks_cli, ["validate"])
    assert result.exit_code == 1
    assert result.output.startswith(f"{Path.cwd() / 'playbooks' / 'broken.yaml'}:12:15: ")


def test_validate_falls_back_to_the_checkouts_playbooks(monkeypatch, tmp_path):
    monkeypatch.delenv("CRISIS_PLAYBOOK_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(playbooks_cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output == "3 playbook file(s) valid, 0 warning(s)\n"


def test_validate_prints_one_line_per_error_and_fails(run):
    broken = FIXTURES / "broken.yaml"
    result = run("validate", broken, FIXTURES / "minimal.yaml")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(
        f"{broken}:12:15: phases[0].steps[0].role: unknown role 'coordinater'"
    )
    assert lines[1].startswith(
        f"{broken}:14:38: phases[0].steps[0].due.in: '30 mins' is not a duration"
    )
    assert lines[2].startswith(
        f"{broken}:16:18: messages.dispatch.sv: unknown placeholder {{name}}"
    )
    assert lines[3] == "3 error(s), 0 warning(s): 1 of 2 playbook file(s) invalid"


def test_validate_reports_warnings_without_failing(run, tmp_path):
    path = tmp_path / "no-english.yaml"
    path.write_text(
        fixture_text().replace("title: {sv: Testplan, en: Test plan}", "title: {sv: Testplan}"),
        encoding="utf-8",
    )
    result = run("validate", path)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"{path}:5:8: title: warning: no English text (en); add one so staff who do not read Swedish can follow the plan",
        "1 playbook file(s) valid, 1 warning(s)",
    ]


def test_validate_a_yaml_syntax_error(run):
    result = run("validate", FIXTURES / "syntax-error.yaml")
    assert result.exit_code == 1
    assert f"{FIXTURES / 'syntax-error.yaml'}:4:11: YAML syntax error:" in result.output


def test_show_a_playbook_as_a_schedule_in_swedish(run):
    result = run("show", "stockholm-skjutning")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Krisplan vid skjutning – stöd till anhöriga\n")
    assert "Akut: första dygnet" in result.output
    assert (
        "  [30 minuter efter aktivering] Larma uppsökande team  (dispatch-outreach-team)"
        in result.output
    )
    assert "      villkor: hotbild: förhöjd eller hög" in result.output
    assert (
        "  [3 månader efter dödsfallet] Bouppteckning inom tre månader  (estate-inventory)"
        in result.output
    )


def test_show_in_english_by_file_name(run):
    result = run("show", "hot-mot-anhoriga", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Plan for threats against relatives – support and protection\n")
    assert (
        "dispatches are acknowledged within 10 minutes, otherwise to: next in the team, coordinator"
        in result.output
    )


def test_show_a_file_by_path(run):
    result = run("show", FIXTURES / "minimal.yaml")
    assert result.exit_code == 0, result.output
    assert "test-minimal, version 1" in result.output


def test_show_an_unknown_playbook(run):
    result = run("show", "stockholm-brand")
    assert result.exit_code == 1
    assert "no playbook 'stockholm-brand'" in result.output
    assert (
        "known: stockholm-dodligt-vald, stockholm-hot-mot-anhoriga, stockholm-skjutning"
        in result.output
    )


def test_show_an_invalid_playbook_file(run):
    result = run("show", FIXTURES / "broken.yaml")
    assert result.exit_code == 1
    assert "the playbook is invalid" in result.output
    assert "broken.yaml:12:15:" in result.output


SIMULATION = (
    "simulate",
    "stockholm-skjutning",
    "--outcome",
    "deceased",
    "--relatives",
    "3",
    "--children",
    "1",
    "--threat-level",
    "raised",
    "--activated",
    "2026-03-14T21:40",
)


def scheduled_times(output):
    return re.findall(r"^  (\d{4}-\d\d-\d\d) \w+ (\d\d:\d\d)", output, re.MULTILINE)


def test_simulate_lists_tasks_and_follow_ups_by_deadline(run):
    result = run(*SIMULATION, "--first-contact", "2026-03-15T10:00")
    assert result.exit_code == 0, result.output
    assert (
        "Händelse: skjutning, utfall avliden, hotbild förhöjd, aktiverad 2026-03-14 lör 21:40"
        in result.output
    )
    assert (
        "anhorig-1 (vuxen, samtycke givet), anhorig-2 (vuxen, samtycke givet), barn-1 (barn, samtycke givet)"
        in result.output
    )
    times = scheduled_times(result.output)
    assert times == sorted(times) and times[0] == ("2026-03-14", "22:10")
    first_line = result.output.splitlines()[6]
    assert re.fullmatch(r"  2026-03-14 lör 22:10 +samordnare +Larma uppsökande team", first_line)
    assert re.search(
        r"2026-03-16 mån 10:00 +uppsökande medarbetare +Uppföljning 1 dag \(telefon, akut\)  \[barn-1 \(barn\)\]",
        result.output,
    )


def test_simulate_lists_tasks_waiting_for_the_death_date(run):
    result = run(*SIMULATION)
    assert result.exit_code == 0, result.output
    waiting = result.output.split("Deadline när dödsdatum är känt:\n")[1]
    assert re.search(
        r"3 månader efter dödsfallet +uppsökande medarbetare +Bouppteckning inom tre månader  \[person-1\]",
        waiting,
    )
    assert "Deadline när första kontakt är tagen:" in result.output


def test_simulate_with_a_death_date_gives_the_estate_inventory_its_deadline(run):
    result = run(*SIMULATION, "--death-date", "2026-03-14T21:10")
    assert "Deadline när dödsdatum är känt" not in result.output
    assert re.search(
        r"^  2026-06-14 sön 21:10 +uppsökande medarbetare +Bouppteckning inom tre månader",
        result.output,
        re.MULTILINE,
    )


def test_simulate_in_english_without_consent(run):
    result = run(
        "simulate",
        "skjutning",
        "--relatives",
        "2",
        "--consent",
        "unknown",
        "--activated",
        "2026-03-14T21:40",
        "--lang",
        "en",
    )
    assert result.exit_code == 0, result.output
    assert (
        "Find out whether the relative agrees to be contacted (consent)  [anhorig-2]"
        in result.output
    )
    assert "First contact" not in result.output
    assert "Follow-up" not in result.output


def test_simulate_refuses_more_children_than_relatives(run):
    result = run("simulate", "skjutning", "--relatives", "1", "--children", "2")
    assert result.exit_code == 2
    assert "cannot exceed --relatives" in result.output


def test_simulate_refuses_a_bad_date(run):
    result = run("simulate", "skjutning", "--activated", "yesterday")
    assert result.exit_code == 2
    assert "'yesterday' is not an ISO date or time" in result.output


def test_simulate_refuses_an_incident_type_the_playbook_does_not_cover(run):
    result = run("simulate", "skjutning", "--incident-type", "lethal_violence")
    assert result.exit_code == 2
    assert "applies to shooting, not to 'lethal_violence'" in result.output
