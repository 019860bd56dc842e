import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisis.playbooks.durations import CALENDAR_ZONE as STOCKHOLM
from crisis.playbooks.durations import parse_duration
from crisis.playbooks.loader import CONDITION_FACTS, load_playbook, schema_enum
from crisis.playbooks.plan import INCIDENT_ANCHORS, Facts, plan

from .factories import ACTIVATED, SHIPPED_FILES, edited, facts, fixture_text, load, person, relative

MINIMAL = load(fixture_text())
SHIPPED = [load_playbook(path) for path in SHIPPED_FILES]

# --- Strategies -------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
maybe_moments = st.none() | moments


@st.composite
def relatives_strategy(draw, refs, person_refs):
    return tuple(
        relative(
            ref,
            consent=draw(st.sampled_from(schema_enum("consent"))),
            is_child=draw(st.booleans()),
            language=draw(st.sampled_from(["sv", "en", "ar", "so"])),
            protected_identity=draw(st.booleans()),
            interpreter_needed=draw(st.booleans()),
            first_contact_at=draw(maybe_moments),
            person_ref=draw(st.sampled_from([None, *person_refs])),
        )
        for ref in refs
    )


@st.composite
def facts_strategy(draw, playbook, max_relatives=4):
    persons = tuple(
        person(f"p{index}", draw(st.sampled_from(["injured", "deceased"])), draw(maybe_moments))
        for index in range(draw(st.integers(0, 2)))
    )
    relative_count = draw(st.integers(0, max_relatives))
    return Facts(
        incident_type=draw(st.sampled_from(playbook.content["applies_to"])),
        outcome=draw(st.sampled_from(schema_enum("outcome"))),
        threat_level=draw(st.sampled_from(schema_enum("threatLevel"))),
        anchors={"activation": draw(moments)}
        | {a: draw(maybe_moments) for a in INCIDENT_ANCHORS[1:]},
        persons=persons,
        relatives=draw(
            relatives_strategy([f"r{i}" for i in range(relative_count)], [p.ref for p in persons])
        ),
    )


@st.composite
def playbook_and_facts(draw):
    playbook = draw(st.sampled_from(SHIPPED))
    return playbook, draw(facts_strategy(playbook))


def items(planned):
    return {item.key: item for item in (*planned.tasks, *planned.follow_ups)}


def keys_of(planned, ref):
    return {key for key in items(planned) if key.endswith(f"@relative:{ref}")}


# --- Properties ---------------------------------------------------------------------


@given(playbook_and_facts())
def test_planning_is_deterministic(case):
    playbook, known = case
    assert plan(playbook, known) == plan(playbook, known)


@given(playbook_and_facts())
def test_keys_are_unique(case):
    planned = plan(*case)
    keys = [item.key for item in (*planned.tasks, *planned.follow_ups)]
    assert len(keys) == len(set(keys))


@given(playbook_and_facts(), st.data())
def test_adding_a_relative_only_adds_items(case, data):
    playbook, known = case
    (newcomer,) = data.draw(relatives_strategy(["newcomer"], [p.ref for p in known.persons]))
    before = items(plan(playbook, known))
    after = items(plan(playbook, replace(known, relatives=(*known.relatives, newcomer))))
    assert {key: after[key] for key in before} == before
    assert all(key.endswith("@relative:newcomer") for key in after.keys() - before.keys())


@given(playbook_and_facts())
def test_only_relatives_who_consented_are_contacted_or_followed_up(case):
    playbook, known = case
    planned = plan(playbook, known)
    consented = {r.ref for r in known.relatives if r.consent == "given"}
    for task in planned.tasks:
        if task.scope == "relative" and task.category != "coordination":
            assert task.subject_ref in consented
    assert {f.relative_ref for f in planned.follow_ups} <= consented


@given(playbook_and_facts(), st.data())
def test_consent_given_makes_outreach_and_follow_ups_appear(case, data):
    playbook, known = case
    (someone,) = data.draw(relatives_strategy(["someone"], [p.ref for p in known.persons]))
    unknown = plan(playbook, replace(known, relatives=(replace(someone, consent="unknown"),)))
    consented = plan(playbook, replace(known, relatives=(replace(someone, consent="given"),)))
    assert not [t for t in unknown.tasks if t.subject_ref == "someone" and t.category == "outreach"]
    assert unknown.follow_ups == ()
    assert [t.key for t in consented.tasks if t.category == "outreach"] == [
        "first-contact@relative:someone"
    ]
    assert [f.label for f in consented.follow_ups] == [
        "1d",
        "3d",
        "1w",
        "2w",
        "1mo",
        "3mo",
        "6mo",
        "12mo",
    ]


@given(playbook_and_facts(), st.data())
def test_a_child_relative_gets_childrens_steps(case, data):
    playbook, known = case
    (someone,) = data.draw(relatives_strategy(["someone"], [p.ref for p in known.persons]))
    child = plan(
        playbook, replace(known, relatives=(replace(someone, consent="given", is_child=True),))
    )
    adult = plan(
        playbook, replace(known, relatives=(replace(someone, consent="given", is_child=False),))
    )
    assert {"school-contact@relative:someone", "bra-samtal@relative:someone"} <= items(child).keys()
    assert not [t for t in adult.tasks if t.category == "children"]


@given(playbook_and_facts())
def test_raising_the_threat_level_adds_safety_steps(case):
    playbook, known = case
    by_level = {
        level: items(plan(playbook, replace(known, threat_level=level)))
        for level in ("normal", "raised", "high")
    }
    assert by_level["normal"].keys() < by_level["raised"].keys() <= by_level["high"].keys()
    added = [
        by_level["raised"][key] for key in by_level["raised"].keys() - by_level["normal"].keys()
    ]
    assert {"two-staff-every-visit", "no-visits-at-known-address"} <= {
        task.step_id for task in added
    }
    assert all(task.category == "safety" for task in added)


@given(playbook_and_facts(), moments)
def test_the_death_date_gives_death_anchored_tasks_their_deadline(case, died):
    playbook, known = case
    deceased = person("victim", "deceased", None)
    unknown = replace(
        known,
        outcome="deceased",
        persons=(deceased,),
        relatives=tuple(replace(r, person_ref="victim") for r in known.relatives),
        anchors={**known.anchors, "death": None},
    )
    known_death = replace(
        unknown,
        persons=(replace(deceased, death_at=died),),
        anchors={**known.anchors, "death": died},
    )
    before, after = plan(playbook, unknown), plan(playbook, known_death)
    assert items(before).keys() == items(after).keys()
    for task in after.tasks:
        if task.anchor == "death":
            assert items(before)[task.key].due_at is None
            assert task.due_at == parse_duration(task.offset).after(died)


@given(playbook_and_facts())
def test_learning_dates_only_re_dates_items(case):
    playbook, known = case
    filled = {anchor: moment or ACTIVATED for anchor, moment in known.anchors.items()}
    learned = replace(
        known,
        anchors=filled,
        persons=tuple(replace(p, death_at=p.death_at or ACTIVATED) for p in known.persons),
        relatives=tuple(
            replace(r, first_contact_at=r.first_contact_at or ACTIVATED) for r in known.relatives
        ),
    )
    before, after = items(plan(playbook, known)), items(plan(playbook, learned))
    assert before.keys() == after.keys()
    for key, item in before.items():
        if item.due_at is not None:
            assert after[key] == item
        assert after[key].due_at is not None


@given(playbook_and_facts())
def test_incident_deadlines_are_anchor_plus_offset_in_utc(case):
    playbook, known = case
    for task in plan(playbook, known).tasks:
        anchor_at = known.anchors.get(task.anchor)
        if task.scope == "incident" and anchor_at is not None:
            assert task.due_at.tzinfo is UTC
            assert task.due_at == parse_duration(task.offset).after(anchor_at)


# --- Examples ---------------------------------------------------------------------


def test_keys_and_scopes_for_each_kind_of_step():
    died = datetime(2026, 3, 14, 21, 10, tzinfo=STOCKHOLM)
    planned = plan(
        MINIMAL,
        facts(
            outcome="deceased", persons=(person("p1", death_at=died),), relatives=(relative("r1"),)
        ),
    )
    assert [(t.key, t.scope, t.subject_ref) for t in planned.tasks] == [
        ("dispatch", "incident", None),
        ("first-contact@relative:r1", "relative", "r1"),
        ("estate-inventory@person:p1", "person", "p1"),
    ]
    estate = planned.tasks[2]
    assert (estate.phase_id, estate.agency, estate.anchor, estate.offset) == (
        "practical",
        "skatteverket",
        "death",
        "3mo",
    )
    # Calendar months in Stockholm time: 21:10 stays 21:10 across summer time.
    assert estate.due_at == datetime(2026, 6, 14, 21, 10, tzinfo=STOCKHOLM)
    assert estate.due_at.tzinfo is UTC
    assert estate.title == {"sv": "Bouppteckning", "en": "Estate inventory"}


def test_task_carries_the_step_text_and_metadata():
    shooting = next(p for p in SHIPPED if p.id == "stockholm-skjutning")
    (task,) = [
        t
        for t in plan(shooting, facts(relatives=(relative("r1"),))).tasks
        if t.step_id == "assign-contact-person"
    ]
    assert task.role == "coordinator" and task.category == "coordination"
    assert "inte samma handläggare" in task.source[0]["quote"]
    assert any("samma handläggare" in item["sv"] for item in task.checklist)


def test_each_deceased_person_has_their_own_death_date():
    first, second = datetime(2026, 3, 14, tzinfo=STOCKHOLM), datetime(2026, 3, 20, tzinfo=STOCKHOLM)
    planned = plan(
        MINIMAL,
        facts(
            outcome="deceased",
            persons=(
                person("a", death_at=first),
                person("b", death_at=second),
                person("c", "injured"),
            ),
        ),
    )
    due = {t.subject_ref: t.due_at for t in planned.tasks if t.step_id == "estate-inventory"}
    assert due == {
        "a": datetime(2026, 6, 14, tzinfo=STOCKHOLM),
        "b": datetime(2026, 6, 20, tzinfo=STOCKHOLM),
    }


def test_relative_death_anchor_uses_their_persons_death():
    text = edited("due: {after: activation, in: 24h}", "due: {after: death, in: 1w}")
    text = edited(
        "when: {relative.consent: given}",
        "when: {relative.consent: given, incident.outcome: deceased}",
        text,
    )
    died, incident_death = datetime(2026, 3, 14, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    known = facts(
        outcome="deceased",
        anchors={"activation": ACTIVATED, "death": incident_death},
        persons=(person("p1", death_at=died),),
        relatives=(relative("linked", person_ref="p1"), relative("unlinked")),
    )
    due = {
        t.subject_ref: t.due_at
        for t in plan(load(text), known).tasks
        if t.step_id == "first-contact"
    }
    assert due == {
        "linked": died + timedelta(weeks=1),
        "unlinked": incident_death + timedelta(weeks=1),
    }


@pytest.mark.parametrize(
    ("condition", "threat_levels"),
    [
        ("incident.threat_level: high", {"high"}),
        ("incident.threat_level: [raised, high]", {"raised", "high"}),
        ("incident.threat_level: {not: normal}", {"raised", "high"}),
        ("incident.threat_level: {not: [normal, raised]}", {"high"}),
    ],
)
def test_conditions_match_scalars_lists_and_not(condition, threat_levels):
    playbook = load(
        edited(
            "        category: coordination\n",
            f"        category: coordination\n        when: {{{condition}}}\n",
        )
    )
    planned_for = {
        level
        for level in ("normal", "raised", "high")
        if plan(playbook, facts(threat_level=level)).tasks
    }
    assert planned_for == threat_levels


@pytest.mark.parametrize("fact", CONDITION_FACTS)
def test_every_fact_the_schema_allows_can_be_planned_on(fact):
    value = {
        "incident.type": "shooting",
        "incident.outcome": "injured",
        "incident.threat_level": "normal",
        "relative.consent": "given",
        "relative.language": "sv",
    }.get(fact, False)
    condition = json.dumps({"relative.consent": "given", fact: value})  # JSON is YAML
    playbook = load(edited("when: {relative.consent: given}", f"when: {condition}"))
    planned = plan(playbook, facts(relatives=(relative("r1"),)))
    assert "first-contact@relative:r1" in {task.key for task in planned.tasks}


def test_boolean_facts_do_not_match_numbers():
    playbook = load(
        edited(
            "when: {relative.consent: given}",
            "when: {relative.consent: given, relative.is_child: true}",
        )
    )
    planned = plan(playbook, facts(relatives=(relative("child", is_child=True), relative("adult"))))
    assert [t.subject_ref for t in planned.tasks if t.step_id == "first-contact"] == ["child"]


def test_follow_ups_are_dated_from_first_contact_and_marked_acute():
    contact = datetime(2026, 3, 15, 9, 0, tzinfo=STOCKHOLM)
    planned = plan(
        MINIMAL, facts(relatives=(relative("r1", first_contact_at=contact), relative("r2")))
    )
    assert [(f.key, f.due_at, f.acute, f.channel) for f in planned.follow_ups] == [
        ("followup:1d@relative:r1", datetime(2026, 3, 16, 9, 0, tzinfo=STOCKHOLM), True, "phone"),
        ("followup:1w@relative:r1", datetime(2026, 3, 22, 9, 0, tzinfo=STOCKHOLM), True, "phone"),
        ("followup:1mo@relative:r1", datetime(2026, 4, 15, 9, 0, tzinfo=STOCKHOLM), False, "phone"),
        ("followup:1d@relative:r2", None, True, "phone"),
        ("followup:1w@relative:r2", None, True, "phone"),
        ("followup:1mo@relative:r2", None, False, "phone"),
    ]


def test_follow_ups_ignore_a_when_that_would_allow_contact_without_consent():
    playbook = load(
        edited(
            "  after: first_contact\n",
            "  after: activation\n  when: {relative.consent: [given, unknown]}\n",
        )
    )
    planned = plan(
        playbook, facts(relatives=(relative("yes"), relative("maybe", consent="unknown")))
    )
    assert {f.relative_ref for f in planned.follow_ups} == {"yes"}
    assert planned.follow_ups[0].due_at == ACTIVATED + timedelta(days=1)


def test_no_sms_follow_ups_to_relatives_with_protected_identity():
    playbook = load(edited("  acute_within: 1w\n", "  acute_within: 1w\n  channel: sms\n"))
    planned = plan(
        playbook, facts(relatives=(relative("open"), relative("hidden", protected_identity=True)))
    )
    assert {(f.relative_ref, f.channel) for f in planned.follow_ups} == {
        ("open", "sms"),
        ("hidden", "phone"),
    }


@pytest.mark.parametrize(
    ("bad_facts", "message"),
    [
        (facts(incident_type="threat_against_relatives"), "applies to shooting, lethal_violence"),
        (facts(threat_level="severe"), "threat_level 'severe'"),
        (facts(anchors={"activation": datetime(2026, 1, 1)}), "must be an aware datetime"),
        (
            facts(anchors={"activation": ACTIVATED, "burial": ACTIVATED}),
            "unknown anchors ['burial']",
        ),
        (facts(relatives=(relative("r1"), relative("r1"))), "relative refs must be unique"),
        (facts(relatives=(relative("r1", consent="yes"),)), "consent 'yes' is unknown"),
        (
            facts(relatives=(relative("r1", person_ref="nobody"),)),
            "person_ref 'nobody' is not among the persons",
        ),
    ],
)
def test_refuses_facts_it_cannot_plan_from(bad_facts, message):
    with pytest.raises(ValueError, match="cannot plan") as error:
        plan(MINIMAL, bad_facts)
    assert message in str(error.value)
