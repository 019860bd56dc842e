"""The playbooks in playbooks/ load cleanly and follow the domain's rules."""

from datetime import UTC, datetime

import pytest

from crisis.playbooks.durations import parse_duration
from crisis.playbooks.loader import load_directory, validate_paths
from crisis.playbooks.plan import plan

from .factories import ACTIVATED, REPO_PLAYBOOKS, facts, person, relative

PLAYBOOKS = {playbook.id: playbook for playbook in load_directory(REPO_PLAYBOOKS)}
AFTER_A_DEATH = ["stockholm-skjutning", "stockholm-dodligt-vald"]


def steps(playbook):
    return {step["id"]: step for phase in playbook.content["phases"] for step in phase["steps"]}


def test_the_three_playbooks_are_shipped_and_valid():
    assert validate_paths([REPO_PLAYBOOKS]) == []
    assert {p.id: p.content["applies_to"] for p in PLAYBOOKS.values()} == {
        "stockholm-skjutning": ["shooting"],
        "stockholm-dodligt-vald": ["lethal_violence"],
        "stockholm-hot-mot-anhoriga": ["threat_against_relatives"],
    }


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_covers_the_first_day_week_month_and_year(playbook_id):
    assert [phase["id"] for phase in PLAYBOOKS[playbook_id].content["phases"]] == [
        "acute",
        "first-week",
        "first-month",
        "first-year",
    ]


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_plans_a_full_activation(playbook_id):
    playbook = PLAYBOOKS[playbook_id]
    died = datetime(2026, 3, 14, 20, 0, tzinfo=UTC)
    planned = plan(
        playbook,
        facts(
            incident_type=playbook.content["applies_to"][0],
            outcome="deceased",
            threat_level="high",
            anchors={"activation": ACTIVATED, "occurred": ACTIVATED, "death": died},
            persons=(person("p1", death_at=died),),
            relatives=(
                relative("adult", person_ref="p1"),
                relative("child", is_child=True, person_ref="p1"),
            ),
        ),
    )
    assert len(planned.tasks) > 20
    assert len(planned.follow_ups) == 16


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_follow_ups_from_the_next_day_to_the_anniversary(playbook_id):
    follow_ups = PLAYBOOKS[playbook_id].content["follow_ups"]
    assert follow_ups["at"] == ["1d", "3d", "1w", "2w", "1mo", "3mo", "6mo", "12mo"]
    assert follow_ups["acute_within"] == "1w"


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_dispatch_is_acknowledged_within_ten_minutes(playbook_id):
    escalation = PLAYBOOKS[playbook_id].content["escalation"]
    assert escalation["dispatch_ack_within"] == "10m"
    assert escalation["escalate_to"] == ["next_in_team", "coordinator"]


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_relative_never_gets_the_case_worker_of_the_person_concerned(playbook_id):
    # Seed 000: "Om en person är aktuell inom socialtjänsten bör inte samma
    # handläggare utses för personens anhörige."
    step = steps(PLAYBOOKS[playbook_id])["assign-contact-person"]
    assert step["category"] == "coordination"
    assert any("inte samma handläggare" in item["sv"] for item in step["checklist"])


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_safety_steps_follow_the_threat_level(playbook_id):
    playbook_steps = steps(PLAYBOOKS[playbook_id])
    for step_id in ("two-staff-every-visit", "no-visits-at-known-address"):
        assert playbook_steps[step_id]["when"] == {"incident.threat_level": ["raised", "high"]}
        assert playbook_steps[step_id]["category"] == "safety"
    assert playbook_steps["police-risk-analysis"]["agency"] == "police"


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_childrens_steps(playbook_id):
    playbook_steps = steps(PLAYBOOKS[playbook_id])
    school = playbook_steps["school-contact"]
    assert (school["for_each"], school["agency"], school["due"]) == (
        "child_relative",
        "school",
        {"after": "activation", "in": "3d"},
    )
    assert playbook_steps["bra-samtal"]["for_each"] == "child_relative"


@pytest.mark.parametrize("playbook_id", AFTER_A_DEATH)
@pytest.mark.parametrize(
    ("step_id", "agency", "due"),
    [
        # docs/domain.md, "Practical help after a death"
        ("funeral-deadline", "funeral_home", {"after": "death", "in": "1mo"}),
        ("estate-inventory", "skatteverket", {"after": "death", "in": "3mo"}),
        ("survivor-pension", "pensionsmyndigheten", {"after": "death", "in": "3mo"}),
        ("urn-interment", "funeral_home", {"after": "funeral", "in": "1y"}),
        ("insurers", "insurer", {"after": "death", "in": "2w"}),
        ("bank-and-subscriptions", "bank", {"after": "death", "in": "2w"}),
        ("landlord", "landlord", {"after": "death", "in": "2w"}),
    ],
)
def test_practical_help_after_a_death_has_the_legal_deadlines(playbook_id, step_id, agency, due):
    step = steps(PLAYBOOKS[playbook_id])[step_id]
    assert (step["for_each"], step["category"], step["agency"], step["due"]) == (
        "deceased",
        "practical_help",
        agency,
        due,
    )


@pytest.mark.parametrize("playbook_id", AFTER_A_DEATH)
def test_criminal_injuries_compensation_is_checked_before_three_years(playbook_id):
    step = steps(PLAYBOOKS[playbook_id])["crime-victim-compensation-deadline"]
    assert step["due"]["after"] == "judgment"
    assert parse_duration(step["due"]["in"]).nominal_length < parse_duration("3y").nominal_length
    assert "21" in step["checklist"][0]["sv"]


@pytest.mark.parametrize("playbook_id", sorted(PLAYBOOKS))
def test_rules_cite_the_seed_documents(playbook_id):
    quoted = [
        entry
        for step in steps(PLAYBOOKS[playbook_id]).values()
        for entry in step.get("source", ())
        if "seed 00" in entry["ref"] and "quote" in entry
    ]
    assert len(quoted) >= 10
