"""`crisis playbooks validate|show|simulate`: check and preview playbooks.

No Flask application or database is needed: everything here works on the
YAML files, so a city can review a playbook change before deploying it.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click
from dateutil.parser import isoparse

from crisis.core.config import PROJECT_ROOT
from crisis.playbooks.durations import CALENDAR_ZONE
from crisis.playbooks.loader import (
    Playbook,
    PlaybookError,
    load_playbook,
    playbook_files,
    schema_enum,
    validate_paths,
)
from crisis.playbooks.plan import Facts, PersonFacts, RelativeFacts, plan
from crisis.playbooks.render import LANGUAGES, render_playbook, render_simulation

PLAYBOOK_DIR_VARIABLE = "CRISIS_PLAYBOOK_DIR"


def default_playbook_dir() -> Path:
    """$CRISIS_PLAYBOOK_DIR, else ./playbooks, else the checkout's playbooks/
    (the application's default, crisis.core.config)."""
    if os.environ.get(PLAYBOOK_DIR_VARIABLE):
        return Path(os.environ[PLAYBOOK_DIR_VARIABLE])
    here = Path.cwd() / "playbooks"
    return here if here.is_dir() else PROJECT_ROOT / "playbooks"


@click.group("playbooks")
def playbooks_cli() -> None:
    """Validate, show and simulate crisis playbooks (the city's crisis plan as data)."""


@playbooks_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Check playbook files or directories (default: the playbooks directory).

    Prints one line per problem as file:line:column: path: message and exits
    with 1 if any playbook has an error.
    """
    paths = paths or (default_playbook_dir(),)
    issues = validate_paths(paths)
    for issue in issues:
        click.echo(str(issue))
    files = playbook_files(paths)
    errors = sum(issue.severity == "error" for issue in issues)
    warnings = len(issues) - errors
    broken = len({issue.file for issue in issues if issue.severity == "error"})
    if errors:
        click.echo(
            f"{errors} error(s), {warnings} warning(s): {broken} of {len(files)} playbook file(s) invalid"
        )
        raise click.exceptions.Exit(1)
    click.echo(f"{len(files)} playbook file(s) valid, {warnings} warning(s)")


@playbooks_cli.command("show")
@click.argument("playbook_id")
@click.option("--lang", type=click.Choice(LANGUAGES), default="sv", show_default=True)
def show_command(playbook_id: str, lang: str) -> None:
    """Show a playbook as a schedule: phases, steps, who and when.

    PLAYBOOK_ID is a playbook id, a file name without .yaml in the playbooks
    directory, or a path to a YAML file.
    """
    click.echo(render_playbook(_find_playbook(playbook_id), lang), nl=False)


@playbooks_cli.command("simulate")
@click.argument("playbook_id")
@click.option(
    "--incident-type",
    type=click.Choice(schema_enum("incidentType")),
    help="Default: the first type the playbook applies to.",
)
@click.option(
    "--outcome", type=click.Choice(schema_enum("outcome")), default="none", show_default=True
)
@click.option(
    "--threat-level",
    type=click.Choice(schema_enum("threatLevel")),
    default="normal",
    show_default=True,
)
@click.option(
    "--relatives",
    "relative_count",
    type=click.IntRange(0, 50),
    default=1,
    show_default=True,
    help="Number of relatives, children included.",
)
@click.option(
    "--children",
    "child_count",
    type=click.IntRange(0, 50),
    default=0,
    show_default=True,
    help="How many of the relatives are children.",
)
@click.option(
    "--consent", type=click.Choice(schema_enum("consent")), default="given", show_default=True
)
@click.option(
    "--activated",
    type=str,
    help="ISO time of activation (Stockholm time unless an offset is given). Default: now.",
)
@click.option(
    "--occurred", type=str, help="ISO time of the incident. Default: the activation time."
)
@click.option("--death-date", type=str, help="ISO date or time of death (outcome deceased).")
@click.option("--funeral-date", type=str, help="ISO date of the funeral.")
@click.option("--judgment-date", type=str, help="ISO date the court proceedings ended.")
@click.option(
    "--first-contact", type=str, help="ISO time of first contact with relatives who consented."
)
@click.option("--lang", type=click.Choice(LANGUAGES), default="sv", show_default=True)
def simulate_command(
    playbook_id: str,
    incident_type: str | None,
    outcome: str,
    threat_level: str,
    relative_count: int,
    child_count: int,
    consent: str,
    activated: str | None,
    occurred: str | None,
    death_date: str | None,
    funeral_date: str | None,
    judgment_date: str | None,
    first_contact: str | None,
    lang: str,
) -> None:
    """List the tasks and follow-ups an activation would create, by deadline.

    Tasks whose anchor is not known yet (no --death-date, say) are listed
    last as "deadline when ... is known".
    """
    if child_count > relative_count:
        raise click.BadParameter("cannot exceed --relatives", param_hint="--children")
    if death_date and outcome != "deceased":
        raise click.BadParameter("needs --outcome deceased", param_hint="--death-date")
    playbook = _find_playbook(playbook_id)
    activated_at = _moment(activated, "--activated") if activated else _now()
    death_at = _moment(death_date, "--death-date")
    first_contact_at = _moment(first_contact, "--first-contact")
    person = PersonFacts(ref="person-1", outcome=outcome, death_at=death_at)
    adults = relative_count - child_count
    relatives = tuple(
        RelativeFacts(
            ref=f"barn-{index - adults + 1}" if index >= adults else f"anhorig-{index + 1}",
            consent=consent,
            is_child=index >= adults,
            language="sv",
            protected_identity=False,
            interpreter_needed=False,
            first_contact_at=first_contact_at if consent == "given" else None,
            person_ref=person.ref,
        )
        for index in range(relative_count)
    )
    facts = Facts(
        incident_type=incident_type or playbook.content["applies_to"][0],
        outcome=outcome,
        threat_level=threat_level,
        anchors={
            "activation": activated_at,
            "occurred": _moment(occurred, "--occurred") or activated_at,
            "death": death_at,
            "funeral": _moment(funeral_date, "--funeral-date"),
            "judgment": _moment(judgment_date, "--judgment-date"),
        },
        persons=(person,),
        relatives=relatives,
    )
    try:
        planned = plan(playbook, facts)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(render_simulation(playbook, facts, planned, lang), nl=False)


def _find_playbook(playbook_id: str) -> Playbook:
    """A playbook by file path, by file name in the playbooks directory, or by id."""
    candidate = Path(playbook_id)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return _load_or_fail(candidate)
    directory = default_playbook_dir()
    if not directory.is_dir():
        raise click.ClickException(
            f"no playbooks directory at {directory}; set {PLAYBOOK_DIR_VARIABLE} to the directory"
        )
    files = playbook_files([directory])
    by_name = [file for file in files if file.stem == playbook_id]
    if by_name:
        return _load_or_fail(by_name[0])
    known_ids = []
    for file in files:
        try:
            playbook = load_playbook(file)
        except PlaybookError:
            continue  # `validate` reports it; another file may hold the id asked for
        if playbook.id == playbook_id:
            return playbook
        known_ids.append(playbook.id)
    raise click.ClickException(
        f"no playbook '{playbook_id}' in {directory}; known: {', '.join(known_ids) or 'none'}"
    )


def _load_or_fail(path: Path) -> Playbook:
    try:
        return load_playbook(path)
    except PlaybookError as error:
        raise click.ClickException(f"the playbook is invalid:\n{error}") from None


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO date or time; without an offset it is Stockholm time."""
    if not value:
        return None
    try:
        moment = isoparse(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time like 2026-03-14T21:40", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CALENDAR_ZONE)


def _now() -> datetime:
    return datetime.now(CALENDAR_ZONE).replace(second=0, microsecond=0)
