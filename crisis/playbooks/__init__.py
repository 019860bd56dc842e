"""Playbooks: the city's crisis plan as validated, versioned data.

The database-free half: read and check playbook YAML (`loader`), durations
(`durations`), the pure planner that turns a playbook and the known facts
into tasks and follow-ups (`plan`), and text views and the CLI
(`render`, `commands`). The format is documented in playbooks/README.md;
crisis/playbooks/schema.json is its authority.

The planner is `crisis.playbooks.plan.plan`; it is not re-exported here so
that `crisis.playbooks.plan` stays the module.
"""

from crisis.playbooks.durations import Duration, DurationError, parse_duration
from crisis.playbooks.loader import (
    MESSAGE_PLACEHOLDERS,
    Playbook,
    PlaybookError,
    PlaybookIssue,
    load_directory,
    load_playbook,
    load_playbook_text,
    validate_paths,
)
from crisis.playbooks.plan import (
    Facts,
    PersonFacts,
    Plan,
    PlannedFollowUp,
    PlannedTask,
    RelativeFacts,
)

__all__ = [
    "MESSAGE_PLACEHOLDERS",
    "Duration",
    "DurationError",
    "Facts",
    "PersonFacts",
    "Plan",
    "PlannedFollowUp",
    "PlannedTask",
    "Playbook",
    "PlaybookError",
    "PlaybookIssue",
    "RelativeFacts",
    "load_directory",
    "load_playbook",
    "load_playbook_text",
    "parse_duration",
    "validate_paths",
]
