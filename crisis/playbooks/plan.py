"""Lay out the tasks and follow-ups a playbook asks for, given what is known.

`plan` is pure and deterministic: the same playbook and facts give an equal
plan. Each item has a stable key, so the engine can plan again whenever a
fact changes (consent recorded, death date entered, threat level raised) and
create, re-date or cancel rows by key. Items whose anchor is not known yet
(e.g. the death date) are planned with ``due_at=None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crisis.playbooks.durations import Duration, parse_duration
from crisis.playbooks.loader import Playbook, schema_enum

INCIDENT_ANCHORS = ("activation", "occurred", "death", "funeral", "judgment")

Text = Mapping[str, str]  # language code -> text, always with "sv"


@dataclass(frozen=True)
class RelativeFacts:
    ref: str
    consent: str  # unknown | given | declined | withdrawn
    is_child: bool
    language: str  # ISO 639-1
    protected_identity: bool
    interpreter_needed: bool
    first_contact_at: datetime | None = None
    person_ref: str | None = None  # the person concerned this relative is related to


@dataclass(frozen=True)
class PersonFacts:
    """A person concerned (the victim): injured or deceased."""

    ref: str
    outcome: str  # injured | deceased | none
    death_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    incident_type: str
    outcome: str
    threat_level: str
    anchors: Mapping[str, datetime | None]  # keys from INCIDENT_ANCHORS; missing means unknown
    persons: tuple[PersonFacts, ...] = ()
    relatives: tuple[RelativeFacts, ...] = ()


@dataclass(frozen=True)
class PlannedTask:
    key: str  # step_id, step_id@relative:REF or step_id@person:REF
    phase_id: str
    step_id: str
    scope: str  # incident | relative | person
    subject_ref: str | None
    title: Text
    description: Text | None
    category: str
    agency: str | None
    role: str
    checklist: tuple[Text, ...]
    source: tuple[Mapping[str, str], ...]
    anchor: str
    offset: str  # canonical duration, e.g. "3mo"
    due_at: datetime | None  # aware UTC; None while the anchor is unknown
    suggested_referrals: tuple[str, ...]


@dataclass(frozen=True)
class PlannedFollowUp:
    key: str  # followup:LABEL@relative:REF
    relative_ref: str
    label: str  # canonical duration, e.g. "1w"
    anchor: str
    due_at: datetime | None
    acute: bool  # offset within the playbook's acute_within
    channel: str  # phone | visit | sms


@dataclass(frozen=True)
class Plan:
    tasks: tuple[PlannedTask, ...]
    follow_ups: tuple[PlannedFollowUp, ...]


def plan(playbook: Playbook, facts: Facts) -> Plan:
    _check_facts(playbook, facts)
    content = playbook.content
    tasks = tuple(
        task
        for phase in content["phases"]
        for step in phase["steps"]
        for task in _plan_step(phase["id"], step, facts)
    )
    return Plan(tasks=tasks, follow_ups=_plan_follow_ups(content.get("follow_ups"), facts))


# --- Tasks ---------------------------------------------------------------------


def _plan_step(phase_id: str, step: Mapping[str, Any], facts: Facts) -> list[PlannedTask]:
    scope = step.get("for_each", "incident")
    condition = step.get("when", {})
    anchor = step["due"]["after"]
    offset = parse_duration(step["due"]["in"])
    # (scope, subject ref, when the anchor happened) for each task to plan
    subjects: list[tuple[str, str | None, datetime | None]]
    if scope == "incident":
        planned = _holds(condition, facts, None)
        subjects = [("incident", None, _incident_anchor(facts, anchor))] if planned else []
    elif scope == "deceased":
        # Each deceased person's own death date: two victims may not have
        # died on the same day.
        subjects = [
            ("person", p.ref, p.death_at if anchor == "death" else _incident_anchor(facts, anchor))
            for p in facts.persons
            if p.outcome == "deceased" and _holds(condition, facts, None)
        ]
    else:
        subjects = [
            ("relative", r.ref, _relative_anchor(facts, r, anchor))
            for r in _relatives_in_scope(scope, facts)
            if _holds(condition, facts, r)
        ]
    return [
        PlannedTask(
            key=step["id"] if ref is None else f"{step['id']}@{task_scope}:{ref}",
            phase_id=phase_id,
            step_id=step["id"],
            scope=task_scope,
            subject_ref=ref,
            title=dict(step["title"]),
            description=dict(step["description"]) if "description" in step else None,
            category=step["category"],
            agency=step.get("agency"),
            role=step["role"],
            checklist=tuple(dict(item) for item in step.get("checklist", ())),
            source=tuple(dict(entry) for entry in step.get("source", ())),
            anchor=anchor,
            offset=str(offset),
            due_at=_due(anchor_at, offset),
            suggested_referrals=tuple(step.get("suggested_referrals", ())),
        )
        for task_scope, ref, anchor_at in subjects
    ]


# --- Follow-ups ----------------------------------------------------------------


def _plan_follow_ups(
    schedule: Mapping[str, Any] | None, facts: Facts
) -> tuple[PlannedFollowUp, ...]:
    if not schedule:
        return ()
    offsets = [parse_duration(text) for text in schedule["at"]]
    acute_within = parse_duration(schedule["acute_within"]) if "acute_within" in schedule else None
    follow_ups = []
    for relative in _relatives_in_scope(schedule.get("for_each", "relative"), facts):
        # Consent is a legal condition, not a playbook choice: social services
        # contact a relative only with consent (docs/domain.md "Consent").
        if relative.consent != "given" or not _holds(schedule.get("when", {}), facts, relative):
            continue
        anchor_at = _relative_anchor(facts, relative, schedule["after"])
        channel = schedule.get("channel", "phone")
        if channel == "sms" and relative.protected_identity:
            channel = "phone"  # protected identity: no SMS (docs/domain.md "Protected identity")
        for offset in offsets:
            follow_ups.append(
                PlannedFollowUp(
                    key=f"followup:{offset}@relative:{relative.ref}",
                    relative_ref=relative.ref,
                    label=str(offset),
                    anchor=schedule["after"],
                    due_at=_due(anchor_at, offset),
                    acute=acute_within is not None
                    and offset.nominal_length <= acute_within.nominal_length,
                    channel=channel,
                )
            )
    return tuple(follow_ups)


# --- Facts, conditions and anchors -----------------------------------------------

_FACT_VALUES: Mapping[str, Callable[[Facts, RelativeFacts | None], Any]] = {
    "incident.type": lambda facts, _: facts.incident_type,
    "incident.outcome": lambda facts, _: facts.outcome,
    "incident.threat_level": lambda facts, _: facts.threat_level,
    "relative.consent": lambda _, relative: relative.consent,
    "relative.is_child": lambda _, relative: relative.is_child,
    "relative.language": lambda _, relative: relative.language,
    "relative.protected_identity": lambda _, relative: relative.protected_identity,
    "relative.interpreter_needed": lambda _, relative: relative.interpreter_needed,
}


def _holds(condition: Mapping[str, Any], facts: Facts, relative: RelativeFacts | None) -> bool:
    """Every fact named in the condition matches (the loader ensures relative
    facts appear only in per-relative steps)."""
    return all(
        _matches(expected, _FACT_VALUES[fact](facts, relative))
        for fact, expected in condition.items()
    )


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return not _matches(expected["not"], actual)
    if isinstance(expected, list):
        return any(_same(value, actual) for value in expected)
    return _same(expected, actual)


def _same(expected: Any, actual: Any) -> bool:
    # bool is an int in Python; `true` must not match 1.
    return type(expected) is type(actual) and expected == actual


def _relatives_in_scope(scope: str, facts: Facts) -> list[RelativeFacts]:
    if scope == "child_relative":
        return [r for r in facts.relatives if r.is_child]
    if scope == "adult_relative":
        return [r for r in facts.relatives if not r.is_child]
    return list(facts.relatives)


def _incident_anchor(facts: Facts, anchor: str) -> datetime | None:
    return facts.anchors.get(anchor)


def _relative_anchor(facts: Facts, relative: RelativeFacts, anchor: str) -> datetime | None:
    if anchor == "first_contact":
        return relative.first_contact_at
    if anchor == "death" and relative.person_ref is not None:
        # The death of the person this relative is related to, when known.
        person = next(p for p in facts.persons if p.ref == relative.person_ref)
        return person.death_at
    return _incident_anchor(facts, anchor)


def _due(anchor_at: datetime | None, offset: Duration) -> datetime | None:
    return None if anchor_at is None else offset.after(anchor_at).astimezone(UTC)


def _check_facts(playbook: Playbook, facts: Facts) -> None:
    """Refuse facts the planner cannot plan from, with a message for the engine's developer."""
    problems = []
    if facts.incident_type not in playbook.content["applies_to"]:
        problems.append(
            f"playbook {playbook.id} applies to {', '.join(playbook.content['applies_to'])}, "
            f"not to {facts.incident_type!r}"
        )
    for name, value, vocabulary in (
        ("outcome", facts.outcome, schema_enum("outcome")),
        ("threat_level", facts.threat_level, schema_enum("threatLevel")),
    ):
        if value not in vocabulary:
            problems.append(f"{name} {value!r} is not one of {', '.join(vocabulary)}")
    unknown_anchors = set(facts.anchors) - set(INCIDENT_ANCHORS)
    if unknown_anchors:
        problems.append(
            f"unknown anchors {sorted(unknown_anchors)}; use {', '.join(INCIDENT_ANCHORS)}"
        )
    moments = list(facts.anchors.items())
    person_refs = [person.ref for person in facts.persons]
    relative_refs = [relative.ref for relative in facts.relatives]
    for person in facts.persons:
        moments.append((f"death_at of person {person.ref}", person.death_at))
        if person.outcome not in schema_enum("outcome"):
            problems.append(f"person {person.ref}: outcome {person.outcome!r} is unknown")
    for relative in facts.relatives:
        moments.append((f"first_contact_at of relative {relative.ref}", relative.first_contact_at))
        if relative.consent not in schema_enum("consent"):
            problems.append(f"relative {relative.ref}: consent {relative.consent!r} is unknown")
        if relative.person_ref is not None and relative.person_ref not in person_refs:
            problems.append(
                f"relative {relative.ref}: person_ref {relative.person_ref!r} is not among the persons"
            )
    for refs, kind in ((person_refs, "person"), (relative_refs, "relative")):
        if len(set(refs)) != len(refs):
            problems.append(f"{kind} refs must be unique; they make the task keys")
    for name, moment in moments:
        if moment is not None and moment.utcoffset() is None:
            problems.append(f"{name} must be an aware datetime, not naive {moment.isoformat()}")
    if problems:
        raise ValueError("cannot plan: " + "; ".join(problems))
