"""Factories for playbook tests: files, texts and planner facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crisis.playbooks.loader import Playbook, PlaybookError, PlaybookIssue, load_playbook_text
from crisis.playbooks.plan import Facts, PersonFacts, RelativeFacts

FIXTURES = Path(__file__).parent / "fixtures"
REPO_PLAYBOOKS = Path(__file__).parents[2] / "playbooks"
SHIPPED_FILES = sorted(REPO_PLAYBOOKS.glob("*.yaml"))

ACTIVATED = datetime(2026, 3, 14, 20, 40, tzinfo=UTC)


def fixture_text(name: str = "minimal.yaml") -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def edited(old: str, new: str, text: str | None = None) -> str:
    """The minimal playbook (or `text`) with one exact snippet replaced."""
    text = fixture_text() if text is None else text
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def line_of(text: str, snippet: str) -> int:
    """1-based line of the only occurrence of `snippet`."""
    assert text.count(snippet) == 1, f"{snippet!r} must occur exactly once"
    return text[: text.index(snippet)].count("\n") + 1


def load(text: str) -> Playbook:
    return load_playbook_text(text, "test.yaml")


def issues_of(text: str) -> list[PlaybookIssue]:
    try:
        return list(load(text).warnings)
    except PlaybookError as error:
        return list(error.issues)


def only_issue(text: str) -> PlaybookIssue:
    issues = issues_of(text)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


def relative(ref: str = "r1", **overrides) -> RelativeFacts:
    values = dict(
        ref=ref,
        consent="given",
        is_child=False,
        language="sv",
        protected_identity=False,
        interpreter_needed=False,
        first_contact_at=None,
        person_ref=None,
    )
    values.update(overrides)
    return RelativeFacts(**values)


def person(
    ref: str = "p1", outcome: str = "deceased", death_at: datetime | None = None
) -> PersonFacts:
    return PersonFacts(ref=ref, outcome=outcome, death_at=death_at)


def facts(**overrides) -> Facts:
    values = dict(
        incident_type="shooting",
        outcome="injured",
        threat_level="normal",
        anchors={"activation": ACTIVATED},
        persons=(),
        relatives=(),
    )
    values.update(overrides)
    return Facts(**values)
