"""`crisis org validate|apply FILE`: the city's organisation file."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("org")
def org_cli() -> None:
    """The city's organisation: districts, teams, support organisations, default playbooks."""


def _check(path: str, with_database: bool):
    from crisis.core.db import db
    from crisis.orgadmin.apply import check_org_file
    from crisis.orgadmin.orgfile import OrgFileError

    session = None
    if with_database:
        from sqlalchemy import inspect

        if inspect(db.engine).has_table("playbook_snapshots"):
            session = db.session
    try:
        return check_org_file(session, path, Path(current_app.config["PLAYBOOK_DIR"]))
    except OrgFileError as error:
        for issue in error.issues:
            click.echo(str(issue), err=True)
        click.echo(f"{len(error.issues)} error(s); nothing was changed.", err=True)
        sys.exit(1)


@org_cli.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def org_validate(file: str) -> None:
    """Check FILE; one line per error with file and line. Exit 1 on any error."""
    org = _check(file, with_database=True)
    click.echo(f"{file}: OK ({org.city}: {len(org.districts)} districts, {len(org.teams)} teams, "
               f"{len(org.organisations)} support organisations).")


@org_cli.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def org_apply(file: str) -> None:
    """Make the database match FILE (idempotent) and print what changed."""
    from crisis.core.db import db
    from crisis.orgadmin.apply import OrgApplyRefused, apply_organisation

    org = _check(file, with_database=True)
    try:
        result = apply_organisation(db.session, org)
    except OrgApplyRefused as refused:
        db.session.rollback()
        for line in refused.refusals:
            click.echo(f"Refused: {line}", err=True)
        click.echo("Nothing was changed.", err=True)
        sys.exit(1)
    db.session.commit()
    for line in result.changes:
        click.echo(line)
    if not result.changes:
        click.echo(f"{org.city}: the database already matches {file}; nothing changed.")
